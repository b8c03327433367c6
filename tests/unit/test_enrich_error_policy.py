"""The enrich error policy (docs/workflow.md: enrichment failed + do_not_assign / assign_admin), on fakes."""

from __future__ import annotations

import json

import pytest

from callhook.models.call import Telephony
from callhook.models.dialog import (
    AssignmentSource,
    AssignmentStatus,
    Dialog,
    Enrichment,
    EnrichmentStatus,
    Policy,
    TopicStatus,
)
from callhook.models.reasons import AssignmentReason, TopicReason
from callhook.models.workflow import StepError, WorkflowState
from callhook.services.enrich_error_policy import apply_enrich_error_policy, error_from_catch
from tests.support.fakes import FakeDialogs, FakeInstanceSettings, FakeOperators

HTTP_ERROR = StepError(Error="ActionHTTPError", Cause=json.dumps({"errorMessage": "crm answered 500"}))


def stored_dialog(enrichment: Enrichment | None = None) -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                  telephony=Telephony(call_id="c-1"), policy=Policy(enrich_action="crm"),
                  enrichment=enrichment or Enrichment(status=EnrichmentStatus.PENDING, action_id="crm"))


def failed_state(policy: str, *, auto_transcription: bool = True) -> WorkflowState:
    return WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm",
                         enrich_error_action=policy, auto_transcription=auto_transcription, error=HTTP_ERROR)


def test_do_not_assign_leaves_the_call_unassigned_without_topic_and_says_so_in_the_feed() -> None:
    # Given
    dialogs = FakeDialogs(stored_dialog())
    # When
    result = apply_enrich_error_policy(failed_state("do_not_assign"), dialogs, FakeOperators(),
                                       FakeInstanceSettings(7))
    # Then
    stored = dialogs.dialog("d-1")
    assert result.operator_id is None and stored.operator_id is None
    assert stored.assignment.status == AssignmentStatus.NOT_ASSIGNED
    assert stored.assignment.reason is not None
    assert stored.assignment.reason.code == AssignmentReason.ENRICHMENT_FAILED
    assert stored.topic_resolution.status == TopicStatus.NOT_SET
    assert stored.topic_resolution.reason is not None
    assert stored.topic_resolution.reason.code == TopicReason.ENRICHMENT_FAILED
    assert [(e.kind, e.code) for e in stored.feed] == [("service", "enrichment_failed")]
    assert "crm answered 500" in stored.feed[0].text and "will not be transcribed" in stored.feed[0].text


def test_assign_admin_assigns_the_default_operator_of_the_instance_setting() -> None:
    # Given
    dialogs = FakeDialogs(stored_dialog())
    operators = FakeOperators({"user_id": 7, "email": "root@example.com"})
    # When
    result = apply_enrich_error_policy(failed_state("assign_admin"), dialogs, operators, FakeInstanceSettings(7))
    # Then
    stored = dialogs.dialog("d-1")
    assert result.operator_id == 7 and stored.operator_id == 7
    assert stored.assignment.source == AssignmentSource.DEFAULT_OPERATOR
    assert stored.assignment.reason is not None
    assert stored.assignment.reason.code == AssignmentReason.ENRICHMENT_FAILED_ASSIGN_ADMIN
    assert stored.assignment.reason.model_extra["operator_known"] is True
    assert "default operator 7 and will be transcribed" in stored.feed[0].text


def test_assign_admin_assigns_the_default_operator_even_when_no_such_operator_is_stored() -> None:
    # When
    dialogs = FakeDialogs(stored_dialog())
    result = apply_enrich_error_policy(failed_state("assign_admin", auto_transcription=False), dialogs,
                                       FakeOperators(), FakeInstanceSettings())
    # Then the seed's default, 1, and the reason says it is not a known operator
    stored = dialogs.dialog("d-1")
    assert result.operator_id == 1
    assert stored.assignment.reason is not None and stored.assignment.reason.model_extra["operator_known"] is False
    assert stored.feed[0].text.endswith("default operator 1.")


@pytest.mark.parametrize("policy", ["do_not_assign", "assign_admin"])
def test_a_retried_policy_step_posts_one_service_message(policy: str) -> None:
    # Given
    dialogs = FakeDialogs(stored_dialog())
    # When
    for _ in range(3):
        apply_enrich_error_policy(failed_state(policy), dialogs, FakeOperators(), FakeInstanceSettings())
    # Then
    assert len(dialogs.dialog("d-1").feed) == 1


def test_the_enrich_functions_own_error_detail_is_kept() -> None:
    # Given Enrich recorded its failure in detail before Step Functions caught it
    detail = {"type": "ActionHTTPError", "code": "http_status", "message": "crm answered 503", "status": 503}
    dialogs = FakeDialogs(stored_dialog(Enrichment(status=EnrichmentStatus.FAILED, action_id="crm", error=detail)))
    # When
    apply_enrich_error_policy(failed_state("do_not_assign"), dialogs, FakeOperators(), FakeInstanceSettings())
    # Then
    stored = dialogs.dialog("d-1")
    assert stored.enrichment.error == detail
    assert "crm answered 503" in stored.feed[0].text


def test_an_error_enrich_could_not_record_is_taken_from_the_catch() -> None:
    # Given the Lambda timed out: nothing recorded, the Catch's $.error is all there is
    dialogs = FakeDialogs(stored_dialog())
    state = failed_state("do_not_assign").model_copy(update={"error": StepError(Error="States.Timeout")})
    # When
    apply_enrich_error_policy(state, dialogs, FakeOperators(), FakeInstanceSettings())
    # Then
    stored = dialogs.dialog("d-1")
    assert stored.enrichment.status == EnrichmentStatus.FAILED
    assert stored.enrichment.error == {"type": "States.Timeout", "code": "timeout", "message": "States.Timeout"}


@pytest.mark.parametrize(("error", "expected"), [
    (None, {"type": "Unknown", "code": "unknown", "message": "enrichment failed"}),
    (StepError(Error="DependencyUnavailableError", Cause='{"errorMessage": "crm is down"}'),
     {"type": "DependencyUnavailableError", "code": "unavailable", "message": "crm is down"}),
    (StepError(Error="ActionHTTPError", Cause="not json"),
     {"type": "ActionHTTPError", "code": "failed", "message": "not json"}),
    (StepError(Error="ActionHTTPError", Cause="[1, 2]"),
     {"type": "ActionHTTPError", "code": "failed", "message": "[1, 2]"}),
], ids=["none", "lambda-payload", "plain-cause", "json-not-an-object"])
def test_error_from_catch_reads_step_functions_error_shape(error: StepError | None, expected: dict) -> None:
    assert error_from_catch(error) == expected
