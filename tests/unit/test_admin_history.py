"""`callhook execution history` on a fake of its port: a dialog's runs in order, each history folded into state
visits with their attempts (a Retry adds one), how each state ended and why the execution failed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from callhook_admin.services.history import dialog_history
from tests.support.fakes import FakeExecutions

LAMBDA_ERROR = json.dumps({"errorMessage": "crm answered 500", "errorType": "ActionHTTPError"})


def _history(executions: FakeExecutions, *events: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as GetExecutionHistory answers them: ids in order, a second apart."""
    return [{"id": n, "type": kind, "timestamp": executions.started_at + timedelta(seconds=n), **details}
            for n, (kind, details) in enumerate(events, start=1)]


def _entered(kind: str, name: str) -> tuple[str, dict[str, Any]]:
    return f"{kind}StateEntered", {"stateEnteredEventDetails": {"name": name}}


def _failed(error: str, cause: str) -> tuple[str, dict[str, Any]]:
    return "TaskFailed", {"taskFailedEventDetails": {"error": error, "cause": cause}}


def test_a_dialogs_runs_are_folded_into_states_attempts_and_outcomes() -> None:
    # Given a first run whose Enrich was retried then caught, and which failed, and a replay still running
    executions = FakeExecutions(**{"d-1": "FAILED", "d-1-r1": "RUNNING"})
    executions.histories["d-1"] = _history(
        executions, ("ExecutionStarted", {}), _entered("Task", "Enrich"), ("TaskScheduled", {}),
        _failed("Lambda.ServiceException", "throttled"), ("TaskScheduled", {}),
        _failed("ActionHTTPError", LAMBDA_ERROR),
        ("TaskStateExited", {}), _entered("Fail", "EnrichFailed"),
        ("ExecutionFailed", {"executionFailedEventDetails": {"error": "ActionHTTPError", "cause": LAMBDA_ERROR}}))
    executions.histories["d-1-r1"] = _history(executions, ("ExecutionStarted", {}), _entered("Task", "Enrich"),
                                              ("TaskScheduled", {}))
    # When
    history = dialog_history("d-1", executions, "arn:aws:states:us-east-1:123456789012:stateMachine:wf")
    # Then
    first, replay = history.executions
    assert [(e.name, e.replay, e.status) for e in history.executions] == [("d-1", 0, "FAILED"),
                                                                         ("d-1-r1", 1, "RUNNING")]
    enrich, fail = first.states
    assert (enrich.name, enrich.outcome, enrich.retries, enrich.duration_ms) == ("Enrich", "caught", 1, 5000)
    assert [(a.outcome, a.error, a.cause) for a in enrich.attempts] == [
        ("failed", "Lambda.ServiceException", "throttled"), ("failed", "ActionHTTPError", "crm answered 500")]
    assert (fail.name, fail.type, fail.outcome, fail.offset_ms) == ("EnrichFailed", "Fail", "failed", 8000)
    assert (first.error, first.cause) == ("ActionHTTPError", "crm answered 500")  # read from the history's end
    assert [(s.name, s.outcome, len(s.attempts)) for s in replay.states] == [("Enrich", "running", 1)]


def test_a_dialog_without_runs_has_an_empty_history() -> None:
    assert dialog_history("d-9", FakeExecutions(), "arn:aws:states:us-east-1:1:stateMachine:wf").executions == []
