"""`dialog explain`'s cause codes are one typed list (models/reasons.py): a step's own reason code, or one of
explain's conclusions (ExplainCause); a stored code no step writes is named as unknown, with the code kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, Reason, TopicResolution, TopicStatus
from callhook.models.reasons import (
    AssignmentReason,
    ExplainCause,
    ExplainSymptom,
    TopicReason,
    TranscriptionReason,
    cause_code,
)
from callhook_admin.services.diagnosis import SYMPTOMS, Cause, diagnose


@pytest.mark.parametrize("member", [*AssignmentReason, *TopicReason, *TranscriptionReason, *ExplainCause])
def test_every_stored_code_a_step_writes_is_its_own_member(member: str) -> None:
    assert cause_code(str(member)) == member  # enrichment_failed is both an assignment and a topic reason


def test_a_code_no_step_writes_is_unknown() -> None:
    assert cause_code("operator_inactiv") is ExplainCause.UNKNOWN
    assert cause_code(None) is ExplainCause.UNKNOWN


def test_a_cause_refuses_a_code_outside_the_enums() -> None:
    with pytest.raises(ValidationError):
        Cause(code="operator_inactiv", message="a typo in diagnosis would fail here")  # type: ignore[arg-type]


def test_every_symptom_is_a_row_of_the_table() -> None:
    assert set(SYMPTOMS) == set(ExplainSymptom)


def test_a_stored_reason_with_an_unknown_code_is_explained_as_unknown_with_its_code() -> None:
    # Given a dialog whose topic reason was written with a code no step writes (by hand, or an older version)
    dialog = Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                    telephony=Telephony(call_id="c-1"), policy=Policy(enrich_action="crm"),
                    enrichment=Enrichment(status=EnrichmentStatus.OK, action_id="crm", result={"topic": "x"}),
                    topic_resolution=TopicResolution(status=TopicStatus.NOT_SET,
                                                     reason=Reason(code="legacy_code", message="old reason")))
    # When
    diagnosis = diagnose(dialog, channel=None, action=None, operator_lookup=lambda _: None,
                         topic_lookup=lambda _: False)
    # Then
    topic = next(f for f in diagnosis.findings if f.symptom == ExplainSymptom.TOPIC_NOT_SET)
    [cause] = topic.causes
    assert (cause.code, cause.message, cause.evidence["code"]) == (ExplainCause.UNKNOWN, "old reason", "legacy_code")
    # And the JSON the CLI prints carries the plain strings
    dumped = diagnosis.model_dump(mode="json")
    assert any(c["code"] == "unknown" for f in dumped["findings"] for c in f["causes"])
    assert {f["symptom"] for f in dumped["findings"]} == {s.value for s in ExplainSymptom}
