"""Starting the dialog workflow: exactly one execution per dialog, named after it."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook.errors import DependencyUnavailableError
from callhook.models.dialog import Dialog, Workflow, WorkflowStatus
from callhook.models.event import RawEventKind
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.repositories.dialogs import DialogRepository, utc_now
from callhook.repositories.events import EventRepository
from callhook.services.recordings import request_keep_recording


def execution_arn_for(state_machine_arn: str, execution_name: str) -> str:
    """Execution ARNs are derived from the machine's ARN and the name: known before the execution exists."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name


def workflow_input(dialog: Dialog) -> WorkflowState:
    """The execution input, built only from the stored dialog so that a retried start sends identical input."""
    return WorkflowState(
        dialog_id=dialog.dialog_id, channel_id=dialog.channel_id, call_id=dialog.call_id,
        enrich_action=dialog.policy.enrich_action, enrich_error_action=dialog.policy.enrich_error_action,
        auto_transcription=dialog.policy.auto_transcription,
    )


def start_workflow(state_machine_arn: str, dialog: Dialog, *, execution_name: str | None = None) -> str:
    """Start the dialog's execution; a second start of the same one is a no-op.

    Same name + same input returns the running execution; a closed one answers ExecutionAlreadyExists, which
    also means "already started". Either way the provider's retry starts nothing new.

    Raises:
        DependencyUnavailableError: Step Functions refused or was unreachable (the webhook answers 503).
    """
    name = execution_name or dialog.dialog_id
    payload = json.dumps(workflow_input(dialog).execution_input(), separators=(",", ":"), sort_keys=True)
    try:
        resp = client("stepfunctions").start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
            logger.info("execution already exists", execution_name=name)
            return execution_arn_for(state_machine_arn, name)
        raise DependencyUnavailableError(f"StartExecution failed: {exc.response['Error']['Code']}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"StartExecution failed: {exc}") from exc
    return str(resp["executionArn"])


def begin_workflow(state: WorkflowState, *, dialogs_table: str, events_table: str) -> WorkflowState:
    """First step: mark the dialog's workflow running and apply update events that arrived before the call.

    Removing `workflow_pending` takes the dialog out of the reconciliation index.
    """
    dialogs, events = DialogRepository(dialogs_table), EventRepository(events_table)
    dialogs.set_sections(
        state.dialog_id,
        {"workflow": Workflow(status=WorkflowStatus.RUNNING, started_at=utc_now()).model_dump(mode="json")},
        remove=("workflow_pending",),
    )
    recording_arrived = False
    for event in events.pending_updates(state.dialog_id):
        dialogs.fill_telephony(state.dialog_id, event.update_fields)
        events.mark(event.event_id, RawEventKind.APPLIED_UPDATE, applied_at=utc_now())
        logger.info("early update applied", event_id=event.event_id, fields=sorted(event.update_fields))
        recording_arrived = recording_arrived or "recording_url" in event.update_fields
    if recording_arrived:
        request_keep_recording(state.dialog_id)
    return state


def record_workflow_failure(state: WorkflowState, *, dialogs_table: str) -> WorkflowState:
    """A step failed for a reason we own: the dialog keeps its data and says which step failed and why."""
    error = state.error.model_dump(by_alias=True) if state.error else {"Error": "Unknown"}
    dialogs = DialogRepository(dialogs_table)
    current = dialogs.get(state.dialog_id)
    started = current.workflow.started_at if current else None
    failed = Workflow(status=WorkflowStatus.FAILED, started_at=started, finished_at=utc_now(), error=error)
    dialogs.set_sections(state.dialog_id, {"workflow": failed.model_dump(mode="json")})
    logger.error("workflow step failed", error=error.get("Error"))
    return state
