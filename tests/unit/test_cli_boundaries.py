"""The CLI reads and writes only through services (issue 12): no command module imports a repository, boto3 or the
client factory. The one exception is finding the stack (`target.py`: CloudFormation outputs, client endpoints)."""

from __future__ import annotations

import ast

from tests.unit.conftest import ROOT

CLI = ROOT / "cli" / "callhook_cli"
FORBIDDEN = ("boto3", "callhook.aws", "callhook.repositories")
FINDS_THE_STACK = {"target.py"}


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
        for path in CLI.glob("*.py") if path.name not in FINDS_THE_STACK
    }
    # Then
    assert {name: found for name, found in offending.items() if found} == {}

