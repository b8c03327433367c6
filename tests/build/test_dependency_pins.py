"""The layer ships the dependency set the tests run: what requirements.txt pins is what pyproject.toml asks for and
what this venv has installed, and the interpreter running the tests is the template's runtime.

The X-Ray SDK pulls botocore into the layer, where it shadows the runtime's own SDK: an unpinned one would deploy
a boto3/botocore pairing that no test ran.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers/common/python/requirements.txt"


def layer_pins() -> dict[str, Requirement]:
    lines = (line.split("#")[0].strip() for line in LAYER_REQUIREMENTS.read_text().splitlines())
    return {(req := Requirement(line)).name.lower(): req for line in lines if line}


def project_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {(req := Requirement(text)).name.lower(): req for text in project["dependencies"]}


def template_runtime() -> str:
    match = re.search(r"^\s+Runtime:\s*(python3\.\d+)\s*$", (ROOT / "template.yaml").read_text(), re.MULTILINE)
    assert match, "template.yaml's Globals.Function.Runtime"
    return match.group(1)


def test_the_layer_pins_the_sdk_it_ships() -> None:
    pins = layer_pins()
    for name in ("boto3", "botocore", "s3transfer"):
        assert name in pins, f"{name} is not pinned in the layer's requirements"
        assert str(pins[name].specifier).startswith("=="), f"{name}: {pins[name].specifier} is not an exact pin"


def test_every_layer_pin_is_the_projects_requirement_and_the_installed_version() -> None:
    # Given the layer's pins and the project's requirements
    pins, project = layer_pins(), project_requirements()
    mismatched = {}
    for name, pin in pins.items():
        # Then the project asks for the same version with the same extras
        if name not in project or project[name].specifier != pin.specifier or project[name].extras != pin.extras:
            mismatched[name] = f"layer {pin}, pyproject {project.get(name)}"
        # And the venv running the tests has exactly that version installed
        elif not pin.specifier.contains(installed := version(name)):
            mismatched[name] = f"layer {pin}, installed {installed}"
    assert mismatched == {}


def test_the_tests_run_the_templates_runtime() -> None:
    runtime = template_runtime()
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" == runtime
    layer_makefile = (ROOT / "layers/common/python/Makefile").read_text()
    assert f"PYTHON ?= {runtime}" in layer_makefile
    assert f"--python-version {runtime.removeprefix('python')}" in layer_makefile
    assert f"CompatibleRuntimes: [{runtime}]" in (ROOT / "template.yaml").read_text()
