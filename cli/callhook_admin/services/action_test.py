"""`callhook action test`: run an action on a sample call exactly as the Enrich step would, then say what assignment
and topic would do with its answer (the same services the AssignOperator and SetTopic steps run).

A failing action is a report, not an exception; its request is shown through `callhook.services.actions`'s one
preview (secrets as ***), the view a successful run shows too.

Over ports (`callhook.ports`: Action Jail, the channels, the action runner, the operator directory, the topics):
the CLI hands in the adapters and `services/actions.run_action` (callhook_cli/wiring.py);
tests/unit/test_admin_action_test.py hands in fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callhook.clock import utc_now
from callhook.errors import ActionError, DependencyUnavailableError
from callhook.mapping import map_telephony
from callhook.models.action import ActionRunRequest, EnrichmentResult
from callhook.models.call import MappingWarning, Telephony
from callhook.models.channel import Channel, effective_channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, Reason, TopicResolution, make_dialog_id
from callhook.models.workflow import StateEnrichment, WorkflowState
from callhook.ports import ActionRunner, Actions, Channels, Operators, Topics
from callhook.services.actions import preview_request
from callhook.services.assignment import candidates, resolve
from callhook.services.enrichment import action_state
from callhook.services.topics import resolve_topic
from callhook_admin.errors import AdminError, ItemNotFoundError


@dataclass(frozen=True)
class ActionTestPorts:
    """What `callhook action test` reads and runs: the same ports the Enrich, AssignOperator and SetTopic steps
    take."""

    actions: Actions
    channels: Channels
    run_action: ActionRunner
    operators: Operators
    topics: Topics


class ActionTestReport(BaseModel):
    """`callhook action test`: the same run the Enrich step makes, and what assignment and topic would do with it."""

    model_config = ConfigDict(extra="forbid")

    action_id: str
    ok: bool
    full_state: bool
    channel_id: str | None = None
    telephony: dict[str, Any]
    mapping_warnings: list[MappingWarning] = Field(default_factory=list)
    request: ActionRunRequest | None = None  # secrets shown as ***
    status_code: int | None = None
    elapsed_ms: int | None = None
    result: EnrichmentResult | None = None
    error: dict[str, Any] | None = None  # {"type", "code", "message", ..., "retryable"}
    operator_id: int | None = None  # the operator assignment would pick (None: no match)
    operator_attempts: list[Reason] = Field(default_factory=list)
    topic: TopicResolution | None = None


def sample_telephony(sample: dict[str, Any], channel: Channel | None) -> tuple[Telephony, list[MappingWarning]]:
    """The call to test with: a `telephony` block as is, or a provider's raw body through the channel's mapping.

    Raises:
        pydantic.ValidationError: the `telephony` block is invalid.
        AdminError: neither form applies, or the mapping finds no call_id.
    """
    if "telephony" in sample:
        return Telephony.model_validate(sample["telephony"]), []
    if channel is None:
        raise AdminError("the sample has no `telephony` block: pass one (as the Enrich step receives it), or pass "
                         "--channel C to map a provider's raw webhook body with C's field_mapping")
    config = channel.advanced_config
    telephony, warnings = map_telephony(sample, config.field_mapping, timezone=config.timezone,
                                        default_region=config.default_region)
    if telephony is None:
        detail = "; ".join(f"{w.field}: {w.reason}" for w in warnings)
        raise AdminError(f"channel {channel.channel_id}'s mapping finds no call_id in the sample ({detail}); "
                         f"the body's top-level keys are {sorted(sample)[:20]}")
    return telephony, warnings


def try_action(action_id: str, sample: dict[str, Any], io: ActionTestPorts, *, channel_id: str | None = None,
               full_state: bool = False) -> ActionTestReport:
    """Run an action on a sample call exactly as the Enrich step would, then resolve operator and topic from it.

    A failing action is a report with `ok=False` and the error (with whether Step Functions would retry it), not
    an exception: the failure is what the admin is testing for.

    Raises:
        ActionNotFoundError: no such action, or the stored item is invalid (every problem named).
        ItemNotFoundError: `channel_id` names no channel.
        ChannelConfigError: the channel, merged with its preset, is invalid.
        AdminError, pydantic.ValidationError: the sample cannot become a call.
    """
    action = io.actions.get(action_id)
    channel = None
    if channel_id is not None:
        stored = io.channels.get(channel_id)
        if stored is None:
            raise ItemNotFoundError(f"no channel {channel_id!r}")
        channel = effective_channel(stored)  # with its preset's mapping, as ingest maps real calls
    telephony, warnings = sample_telephony(sample, channel)
    cid = channel_id or "action-test"
    dialog = Dialog(dialog_id=make_dialog_id(cid, telephony.call_id), channel_id=cid, call_id=telephony.call_id,
                    created_at=utc_now(), telephony=telephony, mapping_warnings=warnings,
                    policy=Policy(enrich_action=action_id), enrichment=Enrichment(status=EnrichmentStatus.PENDING,
                                                                                  action_id=action_id))
    state = action_state(dialog, channel, full_state=full_state)
    report = ActionTestReport(action_id=action_id, ok=False, full_state=full_state, channel_id=channel_id,
                              telephony=telephony.model_dump(mode="json"), mapping_warnings=warnings)
    try:
        run = io.run_action(action, state)
    except (ActionError, DependencyUnavailableError) as exc:
        report.error = action_error_details(exc)
        report.request = preview_request(action, state)
        return report
    report.ok, report.request, report.status_code = True, run.request, run.status_code
    report.elapsed_ms, report.result = run.elapsed_ms, run.result
    workflow_state = WorkflowState(
        dialog_id=dialog.dialog_id, channel_id=cid, call_id=telephony.call_id, enrich_action=action_id,
        enrichment=StateEnrichment(status=EnrichmentStatus.OK, topic=run.result.topic))
    enriched = dialog.model_copy(update={"enrichment": Enrichment(
        status=EnrichmentStatus.OK, action_id=action_id, result=run.result.model_dump(mode="json"))})
    for source, value in candidates(workflow_state, enriched):
        operator, reason = resolve(source, value, io.operators)
        report.operator_attempts.append(reason)
        if operator is not None:
            report.operator_id = operator.user_id
            break
    report.topic = resolve_topic(run.result.topic, EnrichmentStatus.OK.value, io.topics)
    return report


def action_error_details(exc: ActionError | DependencyUnavailableError) -> dict[str, Any]:
    """The ActionError behind a failure (a transient one chains it), and whether Step Functions retries it."""
    retryable = isinstance(exc, DependencyUnavailableError)
    cause = exc.__cause__ if retryable else exc
    if isinstance(cause, ActionError):
        details = cause.as_dict()
        if retryable:
            details["message"] = str(exc)
    else:
        details = {"type": type(exc).__name__, "code": "unavailable", "message": str(exc)}
    return {**details, "retryable": retryable}
