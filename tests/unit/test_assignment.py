"""Operator assignment, every rule of docs/workflow.md, on in-memory fakes (no moto, no stack: milliseconds each).

The operators are written as an admin writes them in the DynamoDB console; the integration tests
(tests/integration/test_workflow.py, test_console_items.py) keep the same rules on the real path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from callhook.errors import DialogNotFoundError
from callhook.models.call import Telephony
from callhook.models.dialog import AssignmentSource, AssignmentStatus, Dialog, Enrichment, EnrichmentStatus
from callhook.models.reasons import AssignmentReason
from callhook.models.workflow import WorkflowState
from callhook.services.assignment import assign_operator
from tests.support.fakes import FakeDialogs, FakeOperators

ANN = {"user_id": 17, "email": "ann@example.com", "active": True, "ext": "101"}
BOB = {"user_id": 18, "email": "bob@example.com", "active": True, "ext": 102}  # ext as the console's number


def dialog(**telephony: Any) -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                  telephony=Telephony(call_id="c-1", **telephony),
                  enrichment=Enrichment(status=EnrichmentStatus.PENDING))


@dataclass(frozen=True)
class Enriched:
    """A call whose Enrich step returned `email`: the state says enrichment is ok, the dialog holds the result
    (the execution state carries no personal data)."""

    email: str | None

    @property
    def state(self) -> WorkflowState:
        return WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm",
                             enrichment={"status": "ok", "topic": None})

    def on(self, the_dialog: Dialog) -> Dialog:
        return the_dialog.model_copy(update={"enrichment": Enrichment(
            status=EnrichmentStatus.OK, action_id="crm", result={"operator_email": self.email, "topic": None})})


def enriched(email: str | None) -> Enriched:
    return Enriched(email)


DISABLED = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1")  # no enrich action: no enrichment section


def run(state: WorkflowState | Enriched, the_dialog: Dialog, *operators: dict[str, Any],
        ) -> tuple[WorkflowState, Dialog]:
    if isinstance(state, Enriched):
        state, the_dialog = state.state, state.on(the_dialog)
    dialogs = FakeDialogs(the_dialog)
    result = assign_operator(state, dialogs, FakeOperators(*operators))
    return result, dialogs.dialog("d-1")


def test_the_enrichment_email_assigns_the_active_operator_it_matches() -> None:
    # When
    result, stored = run(enriched("ann@example.com"), dialog(), ANN, BOB)
    # Then
    assert result.operator_id == 17 and stored.operator_id == 17
    assert stored.assignment.status == AssignmentStatus.ASSIGNED
    assert stored.assignment.source == AssignmentSource.ENRICHMENT
    assert [a.code for a in stored.assignment.attempts] == [AssignmentReason.MATCHED]


@pytest.mark.parametrize(("returned", "stored_email"), [
    ("ANN@Example.COM", "ann@example.com"),
    ("  ann@example.com\t", "ann@example.com"),
    ("ann@example.com", "  Ann@EXAMPLE.com "),  # as typed in the console
], ids=["case", "spaces-returned", "spaces-and-case-stored"])
def test_emails_match_with_case_and_surrounding_spaces_ignored(returned: str, stored_email: str) -> None:
    # When
    result, stored = run(enriched(returned), dialog(), {**ANN, "email": stored_email})
    # Then
    assert result.operator_id == 17
    assert stored.assignment.attempts[0].model_extra["compared_as"] == "ann@example.com"


def test_an_enrichment_email_that_matches_nobody_does_not_fall_back_to_the_webhook() -> None:
    # Given the webhook names Bob, but the action returned an email of nobody
    the_dialog = dialog(operator_email="bob@example.com", operator_ext="102")
    # When
    result, stored = run(enriched("nobody@example.com"), the_dialog, ANN, BOB)
    # Then
    assert result.operator_id is None and stored.operator_id is None
    assert stored.assignment.status == AssignmentStatus.NOT_ASSIGNED
    assert stored.assignment.reason is not None
    assert stored.assignment.reason.code == AssignmentReason.NO_SUCH_OPERATOR
    assert [a.model_extra["source"] for a in stored.assignment.attempts] == ["enrichment"]


@pytest.mark.parametrize("state", [enriched(None), enriched("   "), DISABLED], ids=["no-email", "blank", "disabled"])
def test_without_an_enrichment_email_the_webhook_email_assigns(state: WorkflowState | Enriched) -> None:
    # When
    result, stored = run(state, dialog(operator_email=" BOB@example.com", operator_ext="101"), ANN, BOB)
    # Then the email wins over the extension (Ann's)
    assert result.operator_id == 18
    assert stored.assignment.source == AssignmentSource.WEBHOOK_EMAIL


def test_the_webhook_ext_assigns_when_the_webhook_email_matches_nobody() -> None:
    # When
    result, stored = run(DISABLED, dialog(operator_email="ghost@example.com", operator_ext="101"), ANN, BOB)
    # Then
    assert result.operator_id == 17
    assert stored.assignment.source == AssignmentSource.WEBHOOK_EXT
    assert [(a.code, a.model_extra["source"]) for a in stored.assignment.attempts] == [
        (AssignmentReason.NO_SUCH_OPERATOR, "webhook_email"), (AssignmentReason.MATCHED, "webhook_ext")]


@pytest.mark.parametrize(("webhook_ext", "stored_ext"), [("102", 102), (" 102 ", "102"), ("102", " 102")],
                         ids=["number-stored", "spaces-in-webhook", "spaces-stored"])
def test_extensions_match_as_text_whether_stored_as_string_or_number(webhook_ext: str, stored_ext: Any) -> None:
    # When
    result, _ = run(DISABLED, dialog(operator_ext=webhook_ext), {**BOB, "ext": stored_ext})
    # Then
    assert result.operator_id == 18


def test_an_inactive_operator_is_never_assigned_and_the_reason_names_it() -> None:
    # When
    result, stored = run(enriched("ann@example.com"), dialog(), {**ANN, "active": False})
    # Then
    assert result.operator_id is None
    reason = stored.assignment.reason
    assert reason is not None and reason.code == AssignmentReason.OPERATOR_INACTIVE
    assert reason.model_extra["operator_ids"] == [17]


def test_an_active_operator_wins_over_an_inactive_one_with_the_same_email() -> None:
    # Given two items with Ann's email: the lower user_id is inactive
    old = {**ANN, "user_id": 3, "active": False}
    newer = {**ANN, "user_id": 40}
    # When
    result, _ = run(enriched("ann@example.com"), dialog(), old, newer, {**ANN, "user_id": 41})
    # Then the lowest active user_id
    assert result.operator_id == 40


def test_an_invalid_operator_item_is_skipped_named_and_never_fatal() -> None:
    # Given a console typo on one of two items with Ann's email
    typo = {"user_id": 5, "email": "ann@example.com", "active": "yes please"}
    # When
    result, stored = run(enriched("ann@example.com"), dialog(), typo, ANN)
    # Then the valid one is assigned and the skipped one is named with its problem
    assert result.operator_id == 17
    skipped = stored.assignment.attempts[0].model_extra["invalid_operators"]
    assert [s["user_id"] for s in skipped] == ["5"] and "active" in skipped[0]["problems"]


def test_only_invalid_items_matching_is_operator_invalid_with_every_problem() -> None:
    # When
    result, stored = run(enriched("ann@example.com"), dialog(), {"user_id": 5, "email": "ann@example.com",
                                                                 "active": "maybe"})
    # Then
    reason = stored.assignment.reason
    assert result.operator_id is None
    assert reason is not None and reason.code == AssignmentReason.OPERATOR_INVALID
    assert "5: active" in reason.message


@pytest.mark.parametrize(("state", "code"), [
    (enriched(None), AssignmentReason.NO_EMAIL_RETURNED),
    (DISABLED, AssignmentReason.NO_OPERATOR_IN_WEBHOOK),
], ids=["enriched-without-email", "disabled"])
def test_no_candidate_at_all_says_where_none_came_from(state: WorkflowState | Enriched,
                                                      code: AssignmentReason) -> None:
    # When
    result, stored = run(state, dialog(), ANN)
    # Then
    assert result.operator_id is None
    assert stored.assignment.status == AssignmentStatus.NOT_ASSIGNED
    assert stored.assignment.reason is not None and stored.assignment.reason.code == code
    assert stored.assignment.attempts == []


def test_reassigning_overwrites_a_previous_operator() -> None:
    # Given a dialog that had an operator (a replay after the admin deactivated them)
    the_dialog = dialog().model_copy(update={"operator_id": 17})
    # When
    result, stored = run(enriched("ann@example.com"), the_dialog, {**ANN, "active": False})
    # Then
    assert result.operator_id is None and stored.operator_id is None


def test_a_dialog_that_is_not_stored_is_dialog_not_found() -> None:
    with pytest.raises(DialogNotFoundError):
        assign_operator(DISABLED, FakeDialogs(), FakeOperators(ANN))


def test_the_state_enrichment_section_is_typed_a_misspelt_key_is_refused() -> None:
    # Given a state written by hand (sam local invoke, a test) with a typo: it would have read as "no email"
    raw = {"dialog_id": "d-1", "channel_id": "ch", "call_id": "c-1",
           "enrichment": {"status": "ok", "operator_emial": "ann@example.com"}}
    # When / Then
    with pytest.raises(ValidationError, match="operator_emial"):
        WorkflowState.model_validate(raw)
