"""The workflow's failure branch (docs/workflow.md): enrichment failed, the channel's `enrich_error_action` decides.

`assign_admin`: the default operator (instance setting, default 1) is assigned so transcription can run.
`do_not_assign`: no operator, no transcription. Both post one service message to the feed and leave the topic unset.
Pure over `callhook.ports`, like assignment: `functions/assign/app.py` wires it,
`tests/unit/test_enrich_error_policy.py` proves it.
"""

from __future__ import annotations

import json
from typing import Any

from callhook.clock import utc_now
from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import (
    Assignment,
    AssignmentSource,
    AssignmentStatus,
    Dialog,
    Enrichment,
    EnrichmentStatus,
    FeedEntry,
    Reason,
    TopicResolution,
    TopicStatus,
)
from callhook.models.reasons import AssignmentReason, TopicReason
from callhook.models.workflow import StepError, WorkflowState
from callhook.observability import logger
from callhook.ports import Dialogs, InstanceSettings, Operators
from callhook.services.steps import load_dialog

FEED_ENTRY_ID = "enrichment-failed"  # one notice per dialog, however often the step is retried


def apply_enrich_error_policy(state: WorkflowState, dialogs: Dialogs, operators: Operators,
                              instance: InstanceSettings) -> WorkflowState:
    """The dialog stays, says why, and follows the channel's `enrich_error_action`."""
    dialog = load_dialog(dialogs, state.dialog_id)
    error = record_enrichment_failure(dialogs, dialog, state.error)
    policy = state.enrich_error_action
    not_set = TopicResolution(status=TopicStatus.NOT_SET, reason=Reason(
        code=TopicReason.ENRICHMENT_FAILED, message="no topic: the enrich action failed"))
    if policy == EnrichErrorAction.ASSIGN_ADMIN:
        operator_id, setting_problem = instance.default_operator_id()
        if setting_problem:
            logger.warning("instance setting unreadable", problem=setting_problem)
        exists = operators.get(operator_id) is not None
        assignment = Assignment(status=AssignmentStatus.ASSIGNED, operator_id=operator_id,
                                source=AssignmentSource.DEFAULT_OPERATOR, reason=Reason(
                                    code=AssignmentReason.ENRICHMENT_FAILED_ASSIGN_ADMIN, operator_known=exists,
                                    message=f"enrichment failed; assigned the default operator {operator_id} "
                                            "(telephony_autotranscribe_default_operator_id)"))
        text = (f"Enrichment failed ({error.get('message')}). The call was assigned to the default operator "
                f"{operator_id}" + (" and will be transcribed." if state.auto_transcription else "."))
        assigned: int | None = operator_id
    else:
        assignment = Assignment(status=AssignmentStatus.NOT_ASSIGNED, reason=Reason(
            code=AssignmentReason.ENRICHMENT_FAILED, message="enrichment failed and the channel's "
                                                             "enrich_error_action is do_not_assign"))
        text = (f"Enrichment failed ({error.get('message')}). The call was left unassigned"
                + (" and will not be transcribed." if state.auto_transcription else "."))
        assigned = None
    dialogs.set_sections(state.dialog_id, {"assignment": assignment.model_dump(mode="json"), "operator_id": assigned,
                                           "topic_resolution": not_set.model_dump(mode="json"), "topic": None})
    dialogs.add_feed_entry(state.dialog_id, FeedEntry(id=FEED_ENTRY_ID, at=utc_now(), kind="service",
                                                      code="enrichment_failed", text=text))
    logger.info("enrich error policy applied", policy=policy.value)
    return state.model_copy(update={"operator_id": assigned})


def record_enrichment_failure(dialogs: Dialogs, dialog: Dialog, error: StepError | None) -> dict[str, Any]:
    """Make sure the dialog says enrichment failed and why. The Enrich function records its own failures in
    detail; errors it could not record (retries exhausted, a Lambda timeout) come from the Catch's `$.error`."""
    if dialog.enrichment.status == EnrichmentStatus.FAILED and dialog.enrichment.error:
        return dialog.enrichment.error
    # Retries exhausted: the last attempt's detail is on the dialog (it was kept out of the execution history).
    retries_exhausted = error is not None and error.error == "DependencyUnavailableError"
    detail = dialog.enrichment.error if retries_exhausted and dialog.enrichment.error else error_from_catch(error)
    failed = Enrichment(status=EnrichmentStatus.FAILED, action_id=dialog.policy.enrich_action, error=detail)
    dialogs.set_sections(dialog.dialog_id, {"enrichment": failed.model_dump(mode="json")})
    return detail


def error_from_catch(error: StepError | None) -> dict[str, Any]:
    """Step Functions' {Error, Cause}: for a Lambda error, Cause is the runtime's JSON error payload."""
    if error is None:
        return {"type": "Unknown", "code": "unknown", "message": "enrichment failed"}
    message = error.cause or error.error
    try:
        cause = json.loads(error.cause or "")
        message = cause.get("errorMessage") or message
    except (ValueError, AttributeError):
        pass
    code = {"States.Timeout": "timeout", "DependencyUnavailableError": "unavailable"}.get(error.error, "failed")
    return {"type": error.error, "code": code, "message": message}
