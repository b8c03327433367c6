"""The deployable artefact: `sam validate --lint` is clean and `sam build` produces an arm64 application.

`Globals.Function.Architectures` does not apply to layers: a layer built for x86_64 passes lint and build and
only fails on AWS (`import pydantic`). The only check that catches it is looking at the built files.

The layer ships the bytecode of every module it holds (its Makefile): Lambda's /opt is read-only, so a module without
a valid .pyc is compiled at every cold start. The checks read each .pyc's header as the runtime's CPython does
(the tests run that interpreter).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EM_AARCH64, EM_X86_64 = 183, 62
# PEP 552: a .pyc's flags word; 0b01 = hash-based without checking the source (valid whatever the zip's mtimes).
UNCHECKED_HASH = 0b01
RUNTIME_MAGIC = importlib.util.MAGIC_NUMBER  # the tests run the template's runtime (test_dependency_pins)
CACHE_TAG = sys.implementation.cache_tag


def _sam() -> str:
    sam = Path(sys.executable).with_name("sam")
    assert sam.exists(), "aws-sam-cli is a dev dependency: run `make setup`"
    return str(sam)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for key in ("AWS_ENDPOINT_URL", "MOTO_PORT"):
        env.pop(key, None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam-build")
    result = _run(_sam(), "build", "--template", str(ROOT / "template.yaml"), "--build-dir", str(out), cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_sam_validate_lint_is_clean() -> None:
    result = _run(_sam(), "validate", "--lint", "--template", str(ROOT / "template.yaml"), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_build_is_arm64_throughout(build_dir: Path) -> None:
    # Then every compiled module of the build (layer included) is aarch64
    shared_objects = list(build_dir.rglob("*.so"))
    assert shared_objects, "expected compiled dependencies (pydantic-core) in the layer"
    wrong = [str(p.relative_to(build_dir)) for p in shared_objects if elf_machine(p) != EM_AARCH64]
    assert wrong == []
    assert any("pydantic_core" in str(p) for p in shared_objects)


def test_sam_build_layer_holds_the_callhook_package(build_dir: Path) -> None:
    layer = build_dir / "CallhookLayer" / "python"
    assert (layer / "callhook" / "models" / "dialog.py").exists()
    assert (build_dir / "IngestFunction" / "app.py").exists()


def test_every_function_handler_exists_in_the_build(build_dir: Path) -> None:
    from callhook_local.template import load_template, resources_of_type

    for logical, res in resources_of_type(load_template(), "AWS::Serverless::Function").items():
        module = res["Properties"]["Handler"].rsplit(".", 1)[0]
        assert (build_dir / logical / f"{module}.py").exists(), logical


def test_built_template_points_at_the_built_artefacts(build_dir: Path) -> None:
    text = (build_dir / "template.yaml").read_text()
    assert "CodeUri: IngestFunction" in text
    assert "ContentUri: CallhookLayer" in text


def test_sam_build_layer_ships_the_callhook_package_as_in_the_source(build_dir: Path) -> None:
    # The build copies the layer's source as it is: tests/unit/test_layer_contents.py, which proves that source
    # holds exactly what the functions import, therefore speaks for the deployed layer too
    layer = build_dir / "CallhookLayer" / "python"
    source = ROOT / "layers" / "common" / "python"
    built = {p.relative_to(layer).as_posix() for p in (layer / "callhook").rglob("*.py")}
    assert built == {p.relative_to(source).as_posix() for p in (source / "callhook").rglob("*.py")}
    assert not (layer / "callhook_admin").exists() and not (layer / "callhook_cli").exists()


def _bytecode_problem(source: Path) -> str | None:
    """What keeps Lambda's runtime from using the source's .pyc as it is, or None."""
    pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
    if not pyc.exists():
        return "no .pyc"
    header = pyc.read_bytes()[:16]
    if header[:4] != RUNTIME_MAGIC:
        return f"magic {header[:4]!r}, not {CACHE_TAG}'s"
    if int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
        return f"flags {int.from_bytes(header[4:8], 'little')}: timestamp-based or checked (compiled again on Lambda)"
    if header[8:16] != importlib.util.source_hash(source.read_bytes()):
        return "compiled from another source"
    return None


def test_sam_build_layer_ships_valid_bytecode_of_every_module(build_dir: Path) -> None:
    # Given the built layer (callhook and its dependencies: botocore in it shadows the runtime's)
    layer = build_dir / "CallhookLayer" / "python"
    sources = list(layer.rglob("*.py"))
    assert any(p.match("callhook/services/ingest.py") for p in sources) and any(p.match("botocore/client.py")
                                                                                 for p in sources)
    # When each source's bytecode is read as the runtime's CPython reads it
    problems = {str(p.relative_to(layer)): problem for p in sources if (problem := _bytecode_problem(p))}
    # Then every module of the layer has its .pyc, unchecked hash-based, from that very source
    assert problems == {}


def test_bytecode_check_refuses_what_lambda_would_compile_again(tmp_path: Path) -> None:
    # Given modules compiled as pip does by default (timestamp-based), as a checked hash, or not at all
    import py_compile

    for name, mode in (("stamp", py_compile.PycInvalidationMode.TIMESTAMP),
                       ("checked", py_compile.PycInvalidationMode.CHECKED_HASH),
                       ("fine", py_compile.PycInvalidationMode.UNCHECKED_HASH)):
        (tmp_path / f"{name}.py").write_text("x = 1\n")
        py_compile.compile(str(tmp_path / f"{name}.py"), invalidation_mode=mode, doraise=True,
                           cfile=str(tmp_path / "__pycache__" / f"{name}.{CACHE_TAG}.pyc"))
    (tmp_path / "none.py").write_text("x = 1\n")
    (tmp_path / "changed.py").write_text("x = 1\n")
    py_compile.compile(str(tmp_path / "changed.py"), cfile=str(tmp_path / "__pycache__" / f"changed.{CACHE_TAG}.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)
    (tmp_path / "changed.py").write_text("x = 2\n")
    # When / Then only the unchecked hash-based .pyc of the same source passes
    verdicts = {p.stem: _bytecode_problem(p) for p in tmp_path.glob("*.py")}
    assert verdicts["fine"] is None
    assert verdicts["none"] == "no .pyc" and verdicts["changed"] == "compiled from another source"
    assert "timestamp-based" in str(verdicts["stamp"]) and "checked" in str(verdicts["checked"])
