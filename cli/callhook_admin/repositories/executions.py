"""The Step Functions adapter of `callhook_admin.ports.DialogExecutions`: the workflow's `Executions` adapter, and
a dialog's executions found by describing their names in order (never by listing the state machine's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from callhook.aws import client
from callhook.models.workflow import execution_arn_for
from callhook.repositories.executions import StepFunctionsExecutions
from callhook_admin.models.execution import execution_name


@dataclass(frozen=True)
class StepFunctionsDialogExecutions(StepFunctionsExecutions):
    def of_dialog(self, dialog_id: str) -> list[dict[str, Any]]:
        """DescribeExecution of the dialog's execution names in order, up to the first that does not exist."""
        sfn = client("stepfunctions")
        found: list[dict[str, Any]] = []
        while True:
            arn = execution_arn_for(self.state_machine_arn, execution_name(dialog_id, len(found)))
            try:
                found.append(sfn.describe_execution(executionArn=arn))
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                    return found
                raise

    def status_of(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        return str(client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """GetExecutionHistory's events, every page, oldest first."""
        events: list[dict[str, Any]] = []
        for page in client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events
