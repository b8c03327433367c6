"""events/ is one corpus for `sam local invoke` (make invoke FN=... CASE=...) and the tests: every file must be an
input its function accepts (provider payloads in events/providers/<provider>/ are bodies, used by the provider
tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model, EventBridgeModel
from pydantic import BaseModel

from callhook.models.stream import StreamEvent
from callhook.models.transcription import TranscribeTask
from callhook.models.workflow import WorkflowState
from callhook_local.template import load_template, resources_of_type

EVENTS = Path(__file__).resolve().parents[2] / "events"
INPUT_MODELS: dict[str, type[BaseModel]] = {
    "begin": WorkflowState, "enrich": WorkflowState, "assign": WorkflowState, "topic": WorkflowState,
    "workflow_failed": WorkflowState, "transcribe": TranscribeTask,
    "ingest": APIGatewayProxyEventV2Model, "reconcile": EventBridgeModel,
    "normalize_operator": StreamEvent, "check_config": StreamEvent, "release_held": StreamEvent,
}


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_event_file_is_a_valid_input_of_its_function(path: Path) -> None:
    event = json.loads(path.read_text())
    model = INPUT_MODELS.get(path.parent.name)
    assert path.parent.name in INPUT_MODELS, f"events/{path.parent.name}: no function of that name"
    assert model is not None
    model.model_validate(event)


def test_every_workflow_function_has_an_event() -> None:
    functions = {res["Properties"]["CodeUri"].strip("/").split("/")[-1]
                 for res in resources_of_type(load_template(), "AWS::Serverless::Function").values()}
    with_events = {p.name for p in EVENTS.iterdir() if p.is_dir() and any(p.glob("*.json"))}
    assert set(INPUT_MODELS) - with_events == set()
    assert set(INPUT_MODELS) <= functions
