"""The CLI reads and writes only through services: no command module imports a repository, boto3 or the
client factory. The exceptions are finding the stack (`target.py`: CloudFormation outputs, client endpoints) and the
composition root that builds the adapters the services take (`wiring.py`).
The admin services it goes through import in any order (no cycle among them)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.unit.conftest import ROOT

CLI = ROOT / "cli" / "callhook_cli"
FORBIDDEN = ("boto3", "callhook.aws", "callhook.repositories")
FINDS_THE_STACK = {"target.py"}
COMPOSITION_ROOT = {"wiring.py"}


def _imports(path: str) -> set[str]:
    tree = ast.parse((CLI / path).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_the_cli_reads_and_writes_only_through_services() -> None:
    # When
    offending = {
        path.name: sorted(i for i in _imports(path.name) if i.startswith(FORBIDDEN))
        for path in CLI.glob("*.py") if path.name not in FINDS_THE_STACK | COMPOSITION_ROOT
    }
    # Then
    assert {name: found for name, found in offending.items() if found} == {}



def test_every_admin_module_imports_first_and_alone() -> None:
    # Given the modules of the admin services (as test_import_order.py does for the layer)
    modules = sorted(".".join(p.relative_to(ROOT / "cli").with_suffix("").parts).removesuffix(".__init__")
                     for p in (ROOT / "cli" / "callhook_admin").rglob("*.py"))
    probe = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('callhook', 'callhook_admin', "
        "'callhook_cli')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps(failed))\n")
    # When each is imported with no callhook module loaded before it
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "cli", capture_output=True, text=True, check=True,
                         timeout=300)
    # Then none depends on an import order (no cycle among them)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}
