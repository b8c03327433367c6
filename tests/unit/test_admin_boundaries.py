"""The admin services that decide over ports are pure as the layer's are (test_service_boundaries.py):
importing one alone loads neither boto3 nor the client factory nor a repository; the CLI's composition root
(callhook_cli/wiring.py) hands them the adapters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.unit.conftest import ROOT

PURE = ["callhook_admin.ports", "callhook_admin.services.diagnosis", "callhook_admin.services.dialogs",
        "callhook_admin.services.erasure", "callhook_admin.services.replay", "callhook_admin.models.execution",
        "callhook_admin.services.history", "callhook_admin.services.deadletters"]
FORBIDDEN = ["boto3", "callhook.aws", "callhook.repositories", "callhook_admin.repositories"]


@pytest.mark.parametrize("module", PURE)
def test_an_admin_service_imports_no_aws(module: str) -> None:
    # When the module is imported alone, in a fresh interpreter, with cli/ on sys.path
    probe = (f"import sys, {module}; "
             f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules or any("
             f"k.startswith(m + '.') for k in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "cli", capture_output=True, text=True, check=True)
    # Then
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
