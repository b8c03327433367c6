"""Reconciliation: a dialog that was stored but whose workflow never began is found and started.

That happens when StartExecution failed and the provider never retried, or the process died between the dialog
write and StartExecution. The start is idempotent with ingest's: the same execution name and input (both derived
from the stored dialog), so a late provider retry and the reconciler can never start two executions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError
from pydantic import BaseModel

from callhook.aws import client
from callhook.observability import logger
from callhook.repositories.dialogs import DialogRepository
from callhook.services.recordings import request_keep_recording
from callhook.services.workflow import execution_arn_for, start_workflow


class ReconcileReport(BaseModel):
    found: int = 0
    recordings_requested: list[str] = []  # dialogs whose recording copy was asked for again
    started: list[str] = []  # dialog ids whose execution this run started (or found already running)
    closed: list[str] = []  # dialogs whose execution exists but ended before its first step marked it


def reconcile_pending(dialogs_table: str, state_machine_arn: str, *, older_than_s: float = 120,
                      limit: int = 100) -> ReconcileReport:
    """Start the workflow of every dialog stored more than `older_than_s` ago that is still workflow-pending.

    The grace period leaves ingest's own StartExecution (and the first step) time to happen.
    """
    cutoff = (datetime.now(UTC) - timedelta(seconds=older_than_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    dialogs = DialogRepository(dialogs_table)
    pending = dialogs.list_workflow_pending(older_than=cutoff, limit=limit)
    report = ReconcileReport(found=len(pending))
    for dialog in pending:
        arn = execution_arn_for(state_machine_arn, dialog.dialog_id)
        status = _status(arn)
        if status in (None, "RUNNING"):
            start_workflow(state_machine_arn, dialog)
            report.started.append(dialog.dialog_id)
        else:  # it ran and ended without BeginWorkflow marking it (a FAILED execution: redrive from the CLI)
            dialogs.clear_workflow_pending(dialog.dialog_id)
            report.closed.append(dialog.dialog_id)
    if pending:
        logger.warning("reconciliation found dialogs without a running workflow", found=report.found,
                       started=len(report.started), closed=len(report.closed))
    return report


def _status(execution_arn: str) -> str | None:
    try:
        return str(client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise


def reconcile_recordings(dialogs_table: str, *, older_than_s: float = 300, limit: int = 100) -> list[str]:
    """Ask again for recordings asked for more than `older_than_s` ago that have no outcome (kept or refused).

    The KeepRecording function records an outcome within its timeout (180 s) in every case it runs, so a dialog
    still waiting after that means the asynchronous request itself was lost. Asking again is safe: a recording that
    is kept is never fetched twice.
    """
    cutoff = (datetime.now(UTC) - timedelta(seconds=older_than_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    dialog_ids = DialogRepository(dialogs_table).list_recording_pending(requested_before=cutoff, limit=limit)
    for dialog_id in dialog_ids:
        request_keep_recording(dialog_id)
    if dialog_ids:
        logger.warning("reconciliation asked again for recordings", count=len(dialog_ids))
    return dialog_ids
