"""`callhook dialog explain`, each row of the seed's common-problems table, on dialogs as the steps leave them
(built here through the steps' own services on fakes, so the reason codes are the ones a real run stores)."""

from __future__ import annotations

from typing import Any

from callhook.models.action import parse_action
from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, WorkflowStatus
from callhook.models.directory import Operator
from callhook.models.workflow import StateEnrichment, StepError, WorkflowState
from callhook.services.assignment import assign_operator
from callhook.services.enrich_error_policy import apply_enrich_error_policy
from callhook.services.topics import set_topic
from callhook_admin.services.diagnosis import (
    ENRICHED_FIELDS_MISSING,
    OPERATOR_NOT_ASSIGNED,
    REAL_CALL_DIFFERS,
    TOPIC_NOT_SET,
    Diagnosis,
    diagnose,
)
from tests.support.fakes import FakeDialogs, FakeInstanceSettings, FakeOperators, FakeTopics

ANN = {"user_id": 17, "email": "ann@example.com", "active": False}
ACTION = parse_action({
    "action_id": "crm", "type": "http", "request": {"url": "https://crm.example.com/{telephony.caller}"},
    "result": {"operator_email": "agent.email", "topic": "line"}})


def processed(result: dict[str, Any] | None, *, failed: bool = False, policy: str = "do_not_assign",
              topics: tuple[str, ...] = ("sales",), default_operator_exists: bool = False, **telephony: Any) -> Dialog:
    """A dialog after Enrich, AssignOperator (or the failure branch) and SetTopic ran."""
    status = EnrichmentStatus.FAILED if failed else EnrichmentStatus.OK
    dialog = Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                    telephony=Telephony(call_id="c-1", **telephony), policy=Policy(
                        enrich_action="crm", enrich_error_action=policy),
                    enrichment=Enrichment(status=status, action_id="crm", result=result, error={
                        "type": "ActionHTTPError", "message": "crm answered 500"} if failed else None))
    admin = [{"user_id": 1, "email": "root@example.com"}] if default_operator_exists else []
    dialogs, operators = FakeDialogs(dialog), FakeOperators(ANN, *admin)
    state = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm",
                          enrich_error_action=policy)
    if failed:
        apply_enrich_error_policy(state.model_copy(update={"error": StepError(Error="ActionHTTPError")}), dialogs,
                                  operators, FakeInstanceSettings())
    else:
        state = state.model_copy(update={"enrichment": StateEnrichment(status=status,
                                                                       topic=(result or {}).get("topic"))})
        assign_operator(state, dialogs, operators)
        set_topic(state, dialogs, FakeTopics(*topics))
    done = dialogs.dialog("d-1")
    return done.model_copy(update={"workflow": done.workflow.model_copy(update={"status": WorkflowStatus.COMPLETED})})


def explain(dialog: Dialog, *, topic_exists_now: bool = False) -> Diagnosis:
    return diagnose(dialog, channel=None, action=ACTION,
                    operator_lookup=lambda user_id: Operator.from_item(ANN) if user_id == 17 else None,
                    topic_lookup=lambda alias: topic_exists_now)


def row(diagnosis: Diagnosis, symptom: str) -> tuple[bool, list[str]]:
    found = next(f for f in diagnosis.findings if f.symptom == symptom)
    return found.applies, [c.code for c in found.causes]


def test_operator_not_assigned_names_the_inactive_operator_it_matched() -> None:
    diagnosis = explain(processed({"operator_email": "ann@example.com", "topic": "sales"}))
    assert row(diagnosis, OPERATOR_NOT_ASSIGNED) == (True, ["operator_inactive"])
    assert "17 <ann@example.com>" in diagnosis.findings[0].summary


def test_operator_not_assigned_names_an_email_that_matches_nobody() -> None:
    diagnosis = explain(processed({"operator_email": "bob@example.com", "topic": "sales"}))
    assert row(diagnosis, OPERATOR_NOT_ASSIGNED) == (True, ["email_matches_no_operator"])


def test_operator_not_assigned_when_the_action_returned_no_email_and_the_webhook_has_none() -> None:
    diagnosis = explain(processed({"operator_email": None, "topic": "sales"}))
    applies, causes = row(diagnosis, OPERATOR_NOT_ASSIGNED)
    assert applies and causes[0] == "no_email_returned"


def test_topic_not_set_for_an_alias_that_differs_suggests_the_nearest_and_says_when_it_exists_now() -> None:
    dialog = processed({"operator_email": None, "topic": "Sales"})
    assert row(explain(dialog), TOPIC_NOT_SET) == (True, ["topic_alias_unknown"])
    later = next(f for f in explain(dialog, topic_exists_now=True).findings if f.symptom == TOPIC_NOT_SET)
    assert "`callhook dialog replay` sets it" in later.summary
    assert "'sales'" in later.summary


def test_topic_set_does_not_apply() -> None:
    assert row(explain(processed({"operator_email": None, "topic": "sales"})), TOPIC_NOT_SET) == (False, [])


def evidence_blocks(diagnosis: Diagnosis) -> list[dict[str, Any]]:
    return [c.evidence for f in diagnosis.findings for c in f.causes if c.evidence and c.code == "enrichment_error"]


def test_do_not_assign_explains_the_unassigned_operator_the_topic_and_the_error_once() -> None:
    diagnosis = explain(processed(None, failed=True, policy="do_not_assign"))
    for symptom in (OPERATOR_NOT_ASSIGNED, TOPIC_NOT_SET, ENRICHED_FIELDS_MISSING):
        assert row(diagnosis, symptom) == (True, ["enrichment_error"]), symptom
    operator = next(f for f in diagnosis.findings if f.symptom == OPERATOR_NOT_ASSIGNED)
    assert "do_not_assign: the call was left unassigned" in operator.summary
    # the error and its evidence once, under the enrichment row
    assert [e["error"]["message"] for e in evidence_blocks(diagnosis)] == ["crm answered 500"]
    assert "crm answered 500" in diagnosis.findings[3].causes[0].message


def test_assign_admin_is_an_assigned_operator_not_a_symptom() -> None:
    diagnosis = explain(processed(None, failed=True, policy="assign_admin", default_operator_exists=True))
    assert row(diagnosis, OPERATOR_NOT_ASSIGNED) == (False, [])
    operator = next(f for f in diagnosis.findings if f.symptom == OPERATOR_NOT_ASSIGNED)
    assert operator.summary == ("operator 1 assigned: the default operator, because enrichment failed and "
                                "enrich_error_action is assign_admin")
    assert row(diagnosis, TOPIC_NOT_SET) == (True, ["enrichment_error"])
    assert "assign_admin: the default operator 1 was assigned" in diagnosis.findings[1].summary
    assert row(diagnosis, ENRICHED_FIELDS_MISSING) == (True, ["enrichment_error"])
    assert [e["enrich_error_action"] for e in evidence_blocks(diagnosis)] == ["assign_admin"]


def test_assign_admin_with_a_default_operator_that_does_not_exist_applies() -> None:
    diagnosis = explain(processed(None, failed=True, policy="assign_admin"))
    assert row(diagnosis, OPERATOR_NOT_ASSIGNED) == (True, ["no_such_operator"])
    assert "is not a stored operator" in diagnosis.findings[0].causes[0].message


def test_enriched_fields_missing_names_the_expression_that_found_nothing() -> None:
    diagnosis = explain(processed({"operator_email": "ann@example.com", "topic": None}))
    applies, causes = row(diagnosis, ENRICHED_FIELDS_MISSING)
    assert applies and causes == ["result_keys_empty"]
    assert "topic ('line')" in diagnosis.findings[3].summary


def test_real_call_differs_when_the_actions_request_needs_a_field_the_mapping_left_empty() -> None:
    # Given the action's URL uses telephony.caller, which this call lacks
    diagnosis = explain(processed({"operator_email": "ann@example.com", "topic": "sales"}))
    applies, causes = row(diagnosis, REAL_CALL_DIFFERS)
    assert applies and causes == ["mapping_left_fields_empty"]
    assert "caller" in diagnosis.findings[2].summary
