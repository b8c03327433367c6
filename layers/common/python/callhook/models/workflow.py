"""Step Functions state: what each task receives and returns. Pointers, never payloads (256 KiB cap)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import EnrichmentStatus


class StepError(BaseModel):
    """What a Catch puts at `$.error`: Step Functions' own shape."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class StateEnrichment(BaseModel):
    """What the Enrich step hands on to AssignOperator and SetTopic. The dialog keeps the full result: execution
    histories outlive an erasure (Step Functions keeps them 90 days), so no personal data travels in the state —
    the operator's email is read from the dialog by AssignOperator; a topic alias is configuration."""

    model_config = ConfigDict(extra="forbid")

    status: EnrichmentStatus
    topic: str | None = None


class WorkflowState(BaseModel):
    """The execution input (built from the stored dialog, so a retried start is identical) plus step results."""

    model_config = ConfigDict(extra="forbid")

    dialog_id: str
    channel_id: str
    call_id: str
    enrich_action: str | None = None
    enrich_error_action: EnrichErrorAction = EnrichErrorAction.DO_NOT_ASSIGN
    auto_transcription: bool = False
    # Filled by the steps:
    enrichment: StateEnrichment | None = None
    operator_id: int | None = None
    error: StepError | None = None

    def output(self) -> dict[str, Any]:
        """What a task returns: JSON, with `error` in Step Functions' own {Error, Cause} shape."""
        return self.model_dump(mode="json", by_alias=True)

    def execution_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include={
            "dialog_id", "channel_id", "call_id", "enrich_action", "enrich_error_action", "auto_transcription"})


def execution_arn_for(state_machine_arn: str, execution_name: str) -> str:
    """Execution ARNs are derived from the machine's ARN and the name: known before the execution exists."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name
