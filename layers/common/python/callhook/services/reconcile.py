"""Reconciliation: a dialog that was stored but whose workflow never began is found and started.

That happens when StartExecution failed and the provider never retried, or the process died between the dialog
write and StartExecution. The start is idempotent with ingest's: the same execution name and input (both derived
from the stored dialog), so a late provider retry and the reconciler can never start two executions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from callhook.observability import logger
from callhook.ports import Executions, PendingDialogs, RecordingRequests
from callhook.services.workflow_steps import workflow_input


class ReconcileReport(BaseModel):
    found: int = 0
    recordings_requested: list[str] = []  # dialogs whose recording copy was asked for again
    started: list[str] = []  # dialog ids whose execution this run started (or found already running)
    closed: list[str] = []  # dialogs whose execution exists but ended before its first step marked it


def reconcile_pending(dialogs: PendingDialogs, executions: Executions, *, older_than_s: float = 120,
                      limit: int = 100) -> ReconcileReport:
    """Start the workflow of every dialog stored more than `older_than_s` ago that is still workflow-pending.

    The grace period leaves ingest's own StartExecution (and the first step) time to happen.
    """
    pending = dialogs.list_workflow_pending(older_than=_ago(older_than_s), limit=limit)
    report = ReconcileReport(found=len(pending))
    for dialog in pending:
        status = executions.status(dialog.dialog_id)
        if status in (None, "RUNNING"):
            executions.start(dialog.dialog_id, workflow_input(dialog))
            report.started.append(dialog.dialog_id)
        else:  # it ran and ended without BeginWorkflow marking it (a FAILED execution: redrive from the CLI)
            dialogs.clear_workflow_pending(dialog.dialog_id)
            report.closed.append(dialog.dialog_id)
    if pending:
        logger.warning("reconciliation found dialogs without a running workflow", found=report.found,
                       started=len(report.started), closed=len(report.closed))
    return report


def reconcile_recordings(dialogs: PendingDialogs, recordings: RecordingRequests, *, older_than_s: float = 300,
                         limit: int = 100) -> list[str]:
    """Ask again for recordings asked for more than `older_than_s` ago that have no outcome (kept or refused).

    The KeepRecording function records an outcome within its timeout (180 s) in every case it runs, so a dialog
    still waiting after that means the asynchronous request itself was lost. Asking again is safe: a recording that
    is kept is never fetched twice.
    """
    dialog_ids = dialogs.list_recording_pending(requested_before=_ago(older_than_s), limit=limit)
    for dialog_id in dialog_ids:
        recordings.request(dialog_id)
    if dialog_ids:
        logger.warning("reconciliation asked again for recordings", count=len(dialog_ids))
    return dialog_ids


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
