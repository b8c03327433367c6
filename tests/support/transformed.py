"""template.yaml as CloudFormation deploys it: expanded by samtranslator (installed with aws-sam-cli), offline.

`sam deploy` uploads each CodeUri/ContentUri/DefinitionUri to S3 first; the same placeholder S3 locations stand in
for them here, and no managed policy is looked up (the template names none by its short name).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from callhook_local.template import load_template

PACKAGED_URIS = ("CodeUri", "ContentUri", "DefinitionUri")


@functools.cache
def _transformed() -> dict[str, Any]:
    template = load_template()
    for logical, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in PACKAGED_URIS:
            if isinstance(props.get(key), str):
                props[key] = f"s3://packaged-artifacts/{logical}"
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return dict(translator.translate(template, parameter_values={}, get_managed_policy_map=dict))


def transformed_template() -> dict[str, Any]:
    """A fresh copy of the deployable CloudFormation template (plain AWS:: types only)."""
    return copy.deepcopy(_transformed())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}
