"""A dialog's executions as a timeline: what the Step Functions console's graph shows, as data.

Executions are named after the dialog (``<dialog_id>``, then ``<dialog_id>-r1``, ``-r2``, ... for each replay,
see `callhook_admin.models.execution`), so a dialog's executions are found by describing those names in order, never by
listing a state machine's (possibly millions of) executions. Each one's history is folded into state visits:
when the state was entered and left, every attempt of its task (a Retry adds one) with its error and cause, and
how it ended (``succeeded``, ``caught`` by a Catch, ``failed``, or still ``running``).

Over the `DialogExecutions` port (callhook_admin.ports): the CLI hands in the Step Functions adapter
(callhook_cli/wiring.py); tests/unit/test_admin_history.py folds histories written as Step Functions answers them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from callhook_admin.ports import DialogExecutions

_ATTEMPT_FAILURES = {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
                     "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed"}
_ATTEMPT_STARTS = {"TaskScheduled", "LambdaFunctionScheduled"}
_ATTEMPT_SUCCESSES = {"TaskSucceeded", "LambdaFunctionSucceeded"}
_EXECUTION_ENDS = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}

Outcome = Literal["succeeded", "caught", "failed", "running"]


class Attempt(BaseModel):
    """One try of a task (the first, or one added by a Retry)."""

    model_config = ConfigDict(extra="forbid")

    number: int
    scheduled_at: datetime
    ended_at: datetime | None = None
    duration_ms: int | None = None
    outcome: Literal["succeeded", "failed", "running"] = "running"
    error: str | None = None
    cause: str | None = None  # readable: a Lambda error's errorMessage rather than its JSON payload


class StateVisit(BaseModel):
    """One state entered by the execution (a state entered twice, in a loop, is two visits)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: str  # Task, Choice, Succeed, Fail, Pass, Wait, Parallel, Map
    entered_at: datetime
    offset_ms: int  # since the execution started
    exited_at: datetime | None = None
    duration_ms: int | None = None
    outcome: Outcome = "running"
    attempts: list[Attempt] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def last_error(self) -> Attempt | None:
        failed = [a for a in self.attempts if a.outcome == "failed"]
        return failed[-1] if failed else None


class ExecutionTimeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    execution_arn: str
    replay: int  # 0 for the dialog's first execution
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started_at: datetime
    stopped_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    cause: str | None = None
    states: list[StateVisit] = Field(default_factory=list)


class DialogHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialog_id: str
    state_machine_arn: str
    executions: list[ExecutionTimeline] = Field(default_factory=list)


def dialog_history(dialog_id: str, executions: DialogExecutions, state_machine_arn: str) -> DialogHistory:
    """Every execution of the dialog, oldest first, each folded into its timeline."""
    timelines = [timeline(desc, executions.history(desc["executionArn"]), replay) for replay, desc in
                 enumerate(executions.of_dialog(dialog_id))]
    return DialogHistory(dialog_id=dialog_id, state_machine_arn=state_machine_arn, executions=timelines)


def timeline(description: dict[str, Any], events: list[dict[str, Any]], replay: int = 0) -> ExecutionTimeline:
    """One execution (a DescribeExecution answer) with its history (GetExecutionHistory's events) folded into
    state visits."""
    started, stopped = description["startDate"], description.get("stopDate")
    execution = ExecutionTimeline(
        name=description["name"], execution_arn=description["executionArn"], replay=replay,
        status=description["status"], started_at=started, stopped_at=stopped,
        duration_ms=_ms(started, stopped), error=description.get("error"),
        cause=readable_cause(description.get("cause")), states=fold_events(events, started),
    )
    if execution.error is None:  # moto leaves error/cause out of DescribeExecution; the history has them
        end = next((e for e in reversed(events) if e["type"] in _EXECUTION_ENDS), None)
        if end is not None:
            details = _details(end)
            execution.error, execution.cause = details.get("error"), readable_cause(details.get("cause"))
    return execution


def fold_events(events: list[dict[str, Any]], started: datetime) -> list[StateVisit]:
    """History events (in id order) -> state visits with their attempts."""
    visits: list[StateVisit] = []
    current: StateVisit | None = None
    for event in sorted(events, key=lambda e: e["id"]):
        kind, at = event["type"], event["timestamp"]
        if kind.endswith("StateEntered"):
            current = StateVisit(name=event["stateEnteredEventDetails"]["name"], type=kind.removesuffix("StateEntered"),
                                 entered_at=at, offset_ms=_ms(started, at) or 0)
            visits.append(current)
        elif current is None:
            continue
        elif kind in _ATTEMPT_STARTS:
            current.attempts.append(Attempt(number=len(current.attempts) + 1, scheduled_at=at))
        elif current.attempts and (kind in _ATTEMPT_SUCCESSES or kind in _ATTEMPT_FAILURES):
            attempt = current.attempts[-1]
            attempt.ended_at, attempt.duration_ms = at, _ms(attempt.scheduled_at, at)
            if kind in _ATTEMPT_SUCCESSES:
                attempt.outcome = "succeeded"
            else:
                details = _details(event)
                attempt.outcome = "failed"
                attempt.error = details.get("error") or kind
                attempt.cause = readable_cause(details.get("cause"))
        elif kind.endswith("StateExited"):
            current.exited_at, current.duration_ms = at, _ms(current.entered_at, at)
            current.outcome = _exit_outcome(current)
            current = None
        elif kind in _EXECUTION_ENDS:
            current.outcome = "failed"
    return visits


def readable_cause(cause: str | None) -> str | None:
    """A Lambda error's cause is the runtime's JSON payload: its errorMessage is what a person reads."""
    if not cause:
        return cause
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(payload, dict) and payload.get("errorMessage"):
        return str(payload["errorMessage"])
    return cause


def _exit_outcome(visit: StateVisit) -> Outcome:
    if visit.type == "Fail":
        return "failed"
    if visit.attempts and visit.attempts[-1].outcome == "failed":
        return "caught"  # the state was left after a failed attempt: a Catch took it
    return "succeeded"


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The `<type>EventDetails` member of a history event (e.g. taskFailedEventDetails)."""
    kind = event["type"]
    return dict(event.get(kind[0].lower() + kind[1:] + "EventDetails") or {})


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds() * 1000))
