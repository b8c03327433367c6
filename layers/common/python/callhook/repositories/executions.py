"""The Step Functions adapter of `callhook.ports.Executions`: the dialog workflow's executions, one per dialog,
named after it. boto3 lives here; errors are translated once (`callhook.aws_errors`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from callhook.aws import client
from callhook.aws_errors import error_code, translated
from callhook.errors import DependencyUnavailableError
from callhook.models.workflow import WorkflowState, execution_arn_for
from callhook.observability import logger


@dataclass(frozen=True)
class StepFunctionsExecutions:
    state_machine_arn: str

    def start(self, name: str, state: WorkflowState) -> str:
        """StartExecution; a second start of the same one is a no-op (its ARN is returned).

        Same name + same input returns the running execution; a closed one answers ExecutionAlreadyExists, which
        also means "already started".

        Raises:
            DependencyUnavailableError: Step Functions refused or was unreachable.
        """
        payload = json.dumps(state.execution_input(), separators=(",", ":"), sort_keys=True)
        try:
            with translated("StartExecution failed"):
                resp = client("stepfunctions").start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                                               input=payload)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ExecutionAlreadyExists":
                logger.info("execution already exists", execution_name=name)
                return execution_arn_for(self.state_machine_arn, name)
            raise DependencyUnavailableError(f"StartExecution failed: {code}") from exc
        return str(resp["executionArn"])

    def status(self, name: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; None when no execution has that name."""
        try:
            with translated("DescribeExecution"):
                resp = client("stepfunctions").describe_execution(
                    executionArn=execution_arn_for(self.state_machine_arn, name))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise
        return str(resp["status"])
