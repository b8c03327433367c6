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
from callhook.services.workflow import execution_arn_for, start_workflow


class ReconcileReport(BaseModel):
    found: int = 0
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
