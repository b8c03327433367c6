"""Starting a dialog's workflow by hand (`callhook dialog replay`; tests that run a stored dialog's workflow): one
execution per name, the dialog's id unless a replay names another.

The start itself is the `StepFunctionsExecutions` adapter (repositories/executions.py), the input `workflow_input`
(services/workflow_steps.py). Ingest and the reconciler start workflows through their `Executions` port; this
admin door lives with the CLI, out of the Lambda layer, which ships only what functions import.
"""

from __future__ import annotations

from callhook.models.dialog import Dialog
from callhook.repositories.executions import StepFunctionsExecutions
from callhook.services.workflow_steps import workflow_input as workflow_input


def start_workflow(state_machine_arn: str, dialog: Dialog, *, execution_name: str | None = None) -> str:
    """Start the dialog's execution; a second start of the same one is a no-op.

    Same name + same input returns the running execution; a closed one answers ExecutionAlreadyExists, which
    also means "already started". Either way the provider's retry starts nothing new.

    Raises:
        DependencyUnavailableError: Step Functions refused or was unreachable (the webhook answers 503).
    """
    return StepFunctionsExecutions(state_machine_arn).start(execution_name or dialog.dialog_id,
                                                            workflow_input(dialog))
