"""The Enrich step: run the channel's Action Jail action for the call and keep what it returned.

Over `callhook.ports`: `functions/enrich/app.py` hands in Action Jail, the channels, the action runner
(`services/actions.run_action`) and the recording requests; `tests/unit/test_enrichment.py` hands in fakes."""

from __future__ import annotations

from typing import Any

from callhook.errors import ActionError, DependencyUnavailableError
from callhook.models.channel import Channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus
from callhook.models.workflow import StateEnrichment, WorkflowState
from callhook.observability import logger, tracer
from callhook.ports import ActionRunner, Actions, Channels, Dialogs, PayloadReader, RecordingRequests
from callhook.services.payloads import with_raw
from callhook.services.steps import load_dialog

# What an action may see of its channel: never the token or the signature secret.
CHANNEL_FIELDS_FOR_ACTIONS = {"channel_id", "name", "auto_transcription", "enrich_error_action", "advanced_config"}


def action_state(dialog: Dialog, channel: Channel | None, *, full_state: bool = False) -> dict[str, Any]:
    """The action's input: `{"telephony", "channel"}`; full state mode adds the whole dialog."""
    state: dict[str, Any] = {
        "telephony": dialog.telephony.model_dump(mode="json"),
        "channel": channel.model_dump(mode="json", include=CHANNEL_FIELDS_FOR_ACTIONS) if channel else
        {"channel_id": dialog.channel_id},
    }
    if full_state:
        state["dialog"] = dialog.model_dump(mode="json")
    return state


@tracer.capture_method(capture_response=False)
def enrich(state: WorkflowState, dialogs: Dialogs, actions: Actions, channels: Channels, run_action: ActionRunner,
           recordings: RecordingRequests, payloads: PayloadReader) -> WorkflowState:
    """Run the action and store its result on the dialog. The action sees the provider's whole body, read from
    the bucket when it did not fit the item (`raw_ref`).

    Raises:
        ActionError leaves: the action failed for good (recorded on the dialog, then caught by the failure branch).
        DependencyUnavailableError: the external system is down or slow; Step Functions retries, then catches.
    """
    dialog = load_dialog(dialogs, state.dialog_id)
    action_id = state.enrich_action or ""
    try:
        action = actions.get(action_id)
        channel = channels.get(dialog.channel_id)
        run = run_action(action, action_state(with_raw(dialog, payloads), channel))
    except ActionError as exc:
        failed = Enrichment(status=EnrichmentStatus.FAILED, action_id=action_id, error=_stored(exc.as_dict()))
        dialogs.set_sections(state.dialog_id, {"enrichment": failed.model_dump(mode="json")})
        logger.warning("enrichment failed", code=exc.code, detail=exc.message)
        raise exc.for_execution_history() from None
    except DependencyUnavailableError as exc:
        # Retried by Step Functions. The detail (a URL built from the call, a response excerpt) stays on the
        # dialog, where erasure reaches it; the execution history gets only a message naming where to look.
        # The code is the chained ActionError's (`timeout`, `connection_failed`), so that once retries are spent
        # the dialog says what went wrong, not only that it might pass.
        cause = exc.__cause__
        detail = cause.as_dict() if isinstance(cause, ActionError) else {"type": type(exc).__name__,
                                                                         "code": "unavailable"}
        waiting = Enrichment(status=EnrichmentStatus.PENDING, action_id=action_id,
                             error=_stored({**detail, "message": str(exc), "retryable": True}))
        dialogs.set_sections(state.dialog_id, {"enrichment": waiting.model_dump(mode="json")})
        logger.warning("enrichment unavailable", detail=str(exc))
        raise DependencyUnavailableError(f"action {action_id!r} unavailable; the dialog's enrichment.error says "
                                         "why") from None
    result = run.result.model_dump(mode="json")
    done = Enrichment(status=EnrichmentStatus.OK, action_id=action_id, result=result, elapsed_ms=run.elapsed_ms)
    dialogs.set_sections(state.dialog_id, {"enrichment": done.model_dump(mode="json")})
    if run.result.recording_url:  # providers that never send the URL: the action may fetch it
        dialogs.fill_telephony(state.dialog_id, {"recording_url": run.result.recording_url})
        if not dialog.telephony.recording_url:
            recordings.request(state.dialog_id)  # copied apart from the workflow, as from a webhook
    logger.info("enrichment ok", has_email=bool(run.result.operator_email), topic=run.result.topic)
    return state.model_copy(update={"enrichment": StateEnrichment(status=EnrichmentStatus.OK, topic=run.result.topic)})


def _stored(error: dict[str, Any]) -> dict[str, Any]:
    """What the dialog keeps of an action's error: no bytes of the system's answer (its status, content type and
    size say what came back), since dialogs are read by every admin and kept for the channel's retention."""
    return {key: value for key, value in error.items() if key != "body_excerpt"}
