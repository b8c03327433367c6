"""Reading template.yaml: the one source of truth for the local stack and the tests' tables.

A small YAML loader that understands CloudFormation's short tags, and a resolver for the intrinsics the template
uses (Ref, Fn::GetAtt, Fn::Sub) against the physical names the local stack gave its resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _short, _long in {"Ref": "Ref", "GetAtt": "Fn::GetAtt", "Sub": "Fn::Sub", "Join": "Fn::Join",
                      "If": "Fn::If", "Equals": "Fn::Equals", "Select": "Fn::Select", "Split": "Fn::Split"}.items():
    _CfnLoader.add_constructor(f"!{_short}", _tag(_long))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def resources_of_type(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] in types}


def table_spec(logical_id: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """create_table keyword arguments for a table of the template (keys, attributes, indexes, billing)."""
    props = (template or load_template())["Resources"][logical_id]["Properties"]
    spec = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
    if "GlobalSecondaryIndexes" in props:
        spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return spec


class Resolver:
    """Resolves intrinsics against `refs` (Ref values), `attrs` ("Logical.Attr" values) and pseudo parameters."""

    def __init__(self, refs: dict[str, str], attrs: dict[str, str]) -> None:
        self.refs, self.attrs = refs, attrs

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                name = ".".join(arg)
                if name not in self.attrs:
                    raise KeyError(f"!GetAtt {name}: not known to the local stack")
                return self.attrs[name]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(self.resolve(i)) for i in items)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise KeyError(f"!Ref {name}: not known to the local stack")
        return self.refs[name]

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
            return str(self._ref(name))

        return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", repl, text)


def substitute_definition(definition: str, substitutions: dict[str, str]) -> str:
    """Apply DefinitionSubstitutions as SAM does; refuse a definition with a placeholder left over.

    moto knows no SAM: an unsubstituted ARN would only fail at run time as Lambda.ResourceNotFoundException.
    """
    out = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: substitutions.get(m.group(1), m.group(0)), definition)
    left = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", out)))
    if left:
        raise ValueError(f"state machine definition has unsubstituted placeholders: {left}")
    return out
