"""Operator assignment (the seed's "what to check" rows, docs/workflow.md): pure decisions over `callhook.ports`.

No boto3 and no client factory here: `functions/assign/app.py` hands in the adapters, `tests/unit/test_assignment.py`
hands in in-memory fakes. The failure branch (enrich_error_action) is `services/enrich_error_policy.py`.
"""

from __future__ import annotations

from callhook.models.dialog import (
    Assignment,
    AssignmentSource,
    AssignmentStatus,
    Dialog,
    EnrichmentStatus,
    Reason,
)
from callhook.models.directory import Operator, normalize_email
from callhook.models.reasons import AssignmentReason
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.ports import Dialogs, Operators
from callhook.services.steps import load_dialog


def candidates(state: WorkflowState, dialog: Dialog) -> list[tuple[AssignmentSource, str]]:
    """Where the operator may come from, in order: the enrichment email; if enrichment is disabled or returned
    no email, the webhook's own operator_email, then its operator_ext.

    The enrichment email is read from the dialog, where the Enrich step stored its result, not from the execution
    state (which keeps no personal data)."""
    enriched = state.enrichment is not None and state.enrichment.status == EnrichmentStatus.OK
    email = str((dialog.enrichment.result or {}).get("operator_email") or "").strip() if enriched else ""
    if email:
        return [(AssignmentSource.ENRICHMENT, email)]
    found: list[tuple[AssignmentSource, str]] = []
    if (webhook_email := (dialog.telephony.operator_email or "").strip()):
        found.append((AssignmentSource.WEBHOOK_EMAIL, webhook_email))
    if (webhook_ext := (dialog.telephony.operator_ext or "").strip()):
        found.append((AssignmentSource.WEBHOOK_EXT, webhook_ext))
    return found


def resolve(source: AssignmentSource, value: str, operators: Operators) -> tuple[Operator | None, Reason]:
    """The active operator for one candidate, or the reason there is none (with the values compared).

    A matching item that is invalid (written by hand with a typo) is skipped, never fatal: it is named in the
    reason (`invalid_operators`, each with its problems) and logged, and the call goes on with the valid ones.
    """
    if source == AssignmentSource.WEBHOOK_EXT:
        lookup, compared = operators.by_ext(value), {"ext": value}
    else:
        key = normalize_email(value)
        lookup, compared = operators.by_email(key), {"email": value, "compared_as": key}
    matches = lookup.operators
    skipped: dict[str, object] = {}
    if lookup.invalid:
        skipped["invalid_operators"] = [{"user_id": i.item_id, "problems": i.summary()} for i in lookup.invalid]
        logger.warning("invalid operator items skipped", source=source.value,
                       invalid_operators=skipped["invalid_operators"])
    active = [op for op in matches if op.active]
    if active:
        op = min(active, key=lambda o: o.user_id)
        return op, Reason(code=AssignmentReason.MATCHED, message=f"{source.value} matched operator {op.user_id}",
                          source=source.value, operator_id=op.user_id, **compared, **skipped)
    if matches:
        ids = [op.user_id for op in matches]
        return None, Reason(code=AssignmentReason.OPERATOR_INACTIVE, source=source.value, operator_ids=ids,
                            **compared, **skipped,
                            message=f"{source.value} {value!r} belongs to inactive operator(s) {ids}")
    if lookup.invalid:
        invalid_ids = [i.item_id for i in lookup.invalid]
        return None, Reason(code=AssignmentReason.OPERATOR_INVALID, source=source.value, **compared, **skipped,
                            message=f"{source.value} {value!r} matches only invalid operator item(s) {invalid_ids}: "
                                    + "; ".join(f"{i.item_id}: {i.summary()}" for i in lookup.invalid))
    return None, Reason(code=AssignmentReason.NO_SUCH_OPERATOR, source=source.value, **compared,
                        message=f"no operator with {next(iter(compared))} {value!r}")


def assign_operator(state: WorkflowState, dialogs: Dialogs, operators: Operators) -> WorkflowState:
    """Assign the operator of a call whose enrichment succeeded or is disabled, and say why when none matched."""
    dialog = load_dialog(dialogs, state.dialog_id)
    tried = candidates(state, dialog)
    attempts: list[Reason] = []
    for source, value in tried:
        operator, reason = resolve(source, value, operators)
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
    if state.enrichment is not None and state.enrichment.status == EnrichmentStatus.OK:
        return Reason(code=AssignmentReason.NO_EMAIL_RETURNED, message="the enrich action returned no "
                      "operator_email and the webhook carries no operator_email or operator_ext")
    return Reason(code=AssignmentReason.NO_OPERATOR_IN_WEBHOOK, message="enrichment is disabled and the webhook "
                  "carries no operator_email or operator_ext")
