"""Operator assignment and the enrich error policy (the seed's "what to check" rows, CONTRACT §4)."""

from __future__ import annotations

from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import (
    Assignment,
    AssignmentSource,
    AssignmentStatus,
    Dialog,
    EnrichmentStatus,
    FeedEntry,
    Reason,
    TopicResolution,
    TopicStatus,
)
from callhook.models.directory import Operator, normalize_email
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.repositories.config import (
    find_operators_by_email,
    find_operators_by_ext,
    get_operator,
    read_default_operator_id,
)
from callhook.repositories.dialogs import DialogRepository, utc_now
from callhook.services.enrichment import record_enrichment_failure
from callhook.services.steps import load_dialog
from callhook.settings import CommonSettings


def candidates(state: WorkflowState, dialog: Dialog) -> list[tuple[AssignmentSource, str]]:
    """Where the operator may come from, in order: the enrichment email; if enrichment is disabled or returned
    no email, the webhook's own operator_email, then its operator_ext."""
    enrichment = state.enrichment or {}
    email = (enrichment.get("operator_email") or "").strip()
    if enrichment.get("status") == EnrichmentStatus.OK and email:
        return [(AssignmentSource.ENRICHMENT, email)]
    found: list[tuple[AssignmentSource, str]] = []
    if (webhook_email := (dialog.telephony.operator_email or "").strip()):
        found.append((AssignmentSource.WEBHOOK_EMAIL, webhook_email))
    if (webhook_ext := (dialog.telephony.operator_ext or "").strip()):
        found.append((AssignmentSource.WEBHOOK_EXT, webhook_ext))
    return found


def resolve(source: AssignmentSource, value: str, operators_table: str) -> tuple[Operator | None, Reason]:
    """The active operator for one candidate, or the reason there is none (with the values compared).

    A matching item that is invalid (written by hand with a typo) is skipped, never fatal: it is named in the
    reason (`invalid_operators`, each with its problems) and logged, and the call goes on with the valid ones.
    """
    if source == AssignmentSource.WEBHOOK_EXT:
        lookup, compared = find_operators_by_ext(operators_table, value), {"ext": value}
    else:
        key = normalize_email(value)
        lookup, compared = find_operators_by_email(operators_table, key), {"email": value, "compared_as": key}
    matches = lookup.operators
    skipped: dict[str, object] = {}
    if lookup.invalid:
        skipped["invalid_operators"] = [{"user_id": i.item_id, "problems": i.summary()} for i in lookup.invalid]
        logger.warning("invalid operator items skipped", source=source.value,
                       invalid_operators=skipped["invalid_operators"])
    active = [op for op in matches if op.active]
    if active:
        op = min(active, key=lambda o: o.user_id)
        return op, Reason(code="matched", message=f"{source.value} matched operator {op.user_id}", source=source.value,
                          operator_id=op.user_id, **compared, **skipped)
    if matches:
        ids = [op.user_id for op in matches]
        return None, Reason(code="operator_inactive", source=source.value, operator_ids=ids, **compared, **skipped,
                            message=f"{source.value} {value!r} belongs to inactive operator(s) {ids}")
    if lookup.invalid:
        invalid_ids = [i.item_id for i in lookup.invalid]
        return None, Reason(code="operator_invalid", source=source.value, **compared, **skipped,
                            message=f"{source.value} {value!r} matches only invalid operator item(s) {invalid_ids}: "
                                    + "; ".join(f"{i.item_id}: {i.summary()}" for i in lookup.invalid))
    return None, Reason(code="no_such_operator", source=source.value, **compared,
                        message=f"no operator with {next(iter(compared))} {value!r}")


def assign_operator(state: WorkflowState, settings: CommonSettings) -> WorkflowState:
    """Assign the operator of a call whose enrichment succeeded or is disabled, and say why when none matched."""
    dialogs = DialogRepository(settings.dialogs_table)
    dialog = load_dialog(dialogs, state.dialog_id)
    tried = candidates(state, dialog)
    attempts: list[Reason] = []
    for source, value in tried:
        operator, reason = resolve(source, value, settings.operators_table)
        attempts.append(reason)
        if operator is not None:
            assignment = Assignment(status=AssignmentStatus.ASSIGNED, operator_id=operator.user_id, source=source,
                                    attempts=attempts)
            dialogs.set_sections(state.dialog_id, {"assignment": assignment.model_dump(mode="json"),
                                                   "operator_id": operator.user_id})
            logger.info("operator assigned", operator_id=operator.user_id, source=source.value)
            return state.model_copy(update={"operator_id": operator.user_id})
    reason = attempts[-1] if attempts else _no_candidate_reason(state)
    assignment = Assignment(status=AssignmentStatus.NOT_ASSIGNED, reason=reason, attempts=attempts)
    dialogs.set_sections(state.dialog_id, {"assignment": assignment.model_dump(mode="json"), "operator_id": None})
    logger.info("operator not assigned", reason=reason.code)
    return state.model_copy(update={"operator_id": None})


def _no_candidate_reason(state: WorkflowState) -> Reason:
    if (state.enrichment or {}).get("status") == EnrichmentStatus.OK:
        return Reason(code="no_email_returned", message="the enrich action returned no operator_email and the "
                      "webhook carries no operator_email or operator_ext")
    return Reason(code="no_operator_in_webhook", message="enrichment is disabled and the webhook carries no "
                  "operator_email or operator_ext")


def apply_enrich_error_policy(state: WorkflowState, settings: CommonSettings) -> WorkflowState:
    """The failure branch: the dialog stays, says why, and follows the channel's `enrich_error_action`.

    `assign_admin`: the default operator (instance setting, default 1) is assigned so transcription can run.
    `do_not_assign`: no operator, no transcription. Both post a service message to the feed, once.
    """
    dialogs = DialogRepository(settings.dialogs_table)
    dialog = load_dialog(dialogs, state.dialog_id)
    error = record_enrichment_failure(dialogs, dialog, state.error)
    policy = state.enrich_error_action
    not_set = TopicResolution(status=TopicStatus.NOT_SET, reason=Reason(
        code="enrichment_failed", message="no topic: the enrich action failed"))
    if policy == EnrichErrorAction.ASSIGN_ADMIN:
        operator_id, setting_problem = read_default_operator_id(settings.settings_table)
        if setting_problem:
            logger.warning("instance setting unreadable", problem=setting_problem)
        exists = get_operator(settings.operators_table, operator_id) is not None
        assignment = Assignment(status=AssignmentStatus.ASSIGNED, operator_id=operator_id,
                                source=AssignmentSource.DEFAULT_OPERATOR, reason=Reason(
                                    code="enrichment_failed_assign_admin", operator_known=exists,
                                    message=f"enrichment failed; assigned the default operator {operator_id} "
                                            "(telephony_autotranscribe_default_operator_id)"))
        text = (f"Enrichment failed ({error.get('message')}). The call was assigned to the default operator "
                f"{operator_id}" + (" and will be transcribed." if state.auto_transcription else "."))
        sections = {"assignment": assignment.model_dump(mode="json"), "operator_id": operator_id,
                    "topic_resolution": not_set.model_dump(mode="json"), "topic": None}
        update: dict[str, int | None] = {"operator_id": operator_id}
    else:
        assignment = Assignment(status=AssignmentStatus.NOT_ASSIGNED, reason=Reason(
            code="enrichment_failed", message="enrichment failed and the channel's enrich_error_action is "
                                              "do_not_assign"))
        text = (f"Enrichment failed ({error.get('message')}). The call was left unassigned"
                + (" and will not be transcribed." if state.auto_transcription else "."))
        sections = {"assignment": assignment.model_dump(mode="json"), "operator_id": None,
                    "topic_resolution": not_set.model_dump(mode="json"), "topic": None}
        update = {"operator_id": None}
    dialogs.set_sections(state.dialog_id, sections)
    dialogs.add_feed_entry(state.dialog_id, FeedEntry(id="enrichment-failed", at=utc_now(), kind="service",
                                                      code="enrichment_failed", text=text))
    logger.info("enrich error policy applied", policy=policy.value)
    return state.model_copy(update=update)

