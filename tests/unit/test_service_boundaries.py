"""The decisions are pure (docs/design.md): importing them loads neither boto3 nor the client factory nor a
repository, so they run on in-memory fakes and never reach AWS by accident."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.unit.conftest import ROOT

PURE = ["callhook.ports", "callhook.clock", "callhook.models.reasons", "callhook.services.steps",
        "callhook.services.assignment", "callhook.services.enrich_error_policy", "callhook.services.topics",
        "callhook.services.transcription_decision", "callhook.services.enrichment"]
PURE += ["callhook.services.transcript", "callhook.services.transcription_job", "callhook.services.transcription",
         "callhook.services.workflow_steps", "callhook.services.reconcile", "callhook.services.kept",
         "callhook.services.raw_events", "callhook.services.recordings", "callhook.services.payloads",
         "callhook.services.retention"]
PURE += ["callhook.services.ingest", "callhook.services.auth", "callhook.services.handshakes",
         "callhook.services.config_check", "callhook.services.operators", "callhook.services.signatures"]
FORBIDDEN = ["boto3", "callhook.aws", "callhook.repositories"]


@pytest.mark.parametrize("module", PURE)
def test_a_decision_module_imports_no_aws(module: str) -> None:
    # When the module is imported alone, in a fresh interpreter
    probe = (f"import sys, {module}; "
             f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules or any("
             f"k.startswith(m + '.') for k in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "layers" / "common" / "python",
                         capture_output=True, text=True, check=True)
    # Then
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
