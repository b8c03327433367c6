"""The workflow's first step and its failure record, and the execution input both sides of a start agree on.

Pure, over `callhook.ports`: `functions/begin/app.py` and `functions/workflow_failed/app.py` hand in the adapters,
`tests/unit/test_workflow_steps.py` hands in fakes.
"""

from __future__ import annotations

from callhook.clock import utc_now
from callhook.errors import DependencyUnavailableError
from callhook.models.dialog import Dialog, Workflow, WorkflowStatus
from callhook.models.event import RawEventKind
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.ports import Dialogs, PendingUpdates, RecordingRequests
from callhook.services.raw_events import set_aside_reason


def workflow_input(dialog: Dialog) -> WorkflowState:
    """The execution input, built only from the stored dialog so that a retried start sends identical input."""
    return WorkflowState(
        dialog_id=dialog.dialog_id, channel_id=dialog.channel_id, call_id=dialog.call_id,
        enrich_action=dialog.policy.enrich_action, enrich_error_action=dialog.policy.enrich_error_action,
        auto_transcription=dialog.policy.auto_transcription,
    )


def begin_workflow(state: WorkflowState, dialogs: Dialogs, events: PendingUpdates,
                   recordings: RecordingRequests) -> WorkflowState:
    """First step: mark the dialog's workflow running and apply update events that arrived before the call.

    Removing `workflow_pending` takes the dialog out of the reconciliation index. An early update that brought the
    recording URL asks for the recording once, after every update is applied. An update the table refuses (or that
    fails for another reason of its own) is set aside with the reason; the others still apply.
    """
    dialogs.set_sections(
        state.dialog_id,
        {"workflow": Workflow(status=WorkflowStatus.RUNNING, started_at=utc_now()).model_dump(mode="json")},
        remove=("workflow_pending",),
    )
    recording_arrived = False
    for event in events.pending_updates(state.dialog_id):
        try:
            dialogs.fill_telephony(state.dialog_id, event.update_fields)
        except DependencyUnavailableError:
            raise  # the table itself: Step Functions retries the step, every update still pending
        except Exception as exc:  # this update's own failure: set aside, the next ones still apply
            code, message = set_aside_reason(exc)
            events.mark(event.event_id, RawEventKind.SET_ASIDE, reason=code, message=message,
                        set_aside_from="pending_update")
            logger.warning("early update set aside", event_id=event.event_id, reason=code, error=message)
            continue
        events.mark(event.event_id, RawEventKind.APPLIED_UPDATE, applied_at=utc_now())
        logger.info("early update applied", event_id=event.event_id, fields=sorted(event.update_fields))
        recording_arrived = recording_arrived or "recording_url" in event.update_fields
    if recording_arrived:
        recordings.request(state.dialog_id)
    return state


def record_workflow_failure(state: WorkflowState, dialogs: Dialogs) -> WorkflowState:
    """A step failed for a reason we own: the dialog keeps its data and says which step failed and why (the
    Catch's `$.error`, Step Functions' {Error, Cause}), keeping when its workflow started."""
    error = state.error.model_dump(by_alias=True) if state.error else {"Error": "Unknown"}
    current = dialogs.get(state.dialog_id)
    started = current.workflow.started_at if current else None
    failed = Workflow(status=WorkflowStatus.FAILED, started_at=started, finished_at=utc_now(), error=error)
    dialogs.set_sections(state.dialog_id, {"workflow": failed.model_dump(mode="json")})
    logger.error("workflow step failed", error=error.get("Error"))
    return state
