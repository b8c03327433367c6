"""The reconciler's decisions (services/reconcile.py) on in-memory fakes: which stored dialogs get their workflow
started, which are closed, which recordings are asked for again. The real path: tests/integration/test_reconcile.py.
"""

from __future__ import annotations

from callhook.models.call import Telephony
from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy
from callhook.services.reconcile import reconcile_pending, reconcile_recordings
from tests.support.fakes import FakeDialogs, FakeExecutions, FakePendingDialogs, FakeRecordingRequests

LONG_AGO, JUST_NOW = "2026-01-01T00:00:00.000000Z", "2999-01-01T00:00:00.000000Z"


def dialog(n: int, created_at: str = LONG_AGO) -> Dialog:
    return Dialog(dialog_id=f"d-{n}", channel_id="main", call_id=f"c-{n}", created_at=created_at,
                  telephony=Telephony(call_id=f"c-{n}"), enrichment=Enrichment(status=EnrichmentStatus.PENDING),
                  policy=Policy(enrich_action="crm", enrich_error_action=EnrichErrorAction.ASSIGN_ADMIN,
                                auto_transcription=True))


def pending(*dialogs: Dialog, **marks: dict[str, str]) -> tuple[FakeDialogs, FakePendingDialogs]:
    store = FakeDialogs(*dialogs)
    for item in store.items.values():
        item["workflow_pending"] = "pending-1"
        item.update(marks.get(item["dialog_id"].replace("-", "_"), {}))
    return store, FakePendingDialogs(store)


def test_a_pending_dialog_without_an_execution_is_started_with_the_input_ingest_would_send() -> None:
    _, dialogs = pending(dialog(1))
    executions = FakeExecutions()
    # When
    report = reconcile_pending(dialogs, executions, older_than_s=0)
    # Then the same name and input as ingest's start: a late provider retry can never start a second one
    assert report.found == 1 and report.started == ["d-1"] and report.closed == []
    assert executions.started == [("d-1", {"dialog_id": "d-1", "channel_id": "main", "call_id": "c-1",
                                           "enrich_action": "crm", "enrich_error_action": "assign_admin",
                                           "auto_transcription": True})]


def test_a_running_execution_is_started_again_idempotently_and_an_ended_one_is_closed() -> None:
    store, dialogs = pending(dialog(1), dialog(2))
    executions = FakeExecutions(**{"d-1": "RUNNING", "d-2": "FAILED"})
    # When
    report = reconcile_pending(dialogs, executions, older_than_s=0)
    # Then
    assert report.started == ["d-1"] and report.closed == ["d-2"]
    assert "workflow_pending" not in store.items["d-2"] and "workflow_pending" in store.items["d-1"]
    # And the closed one is not found again
    assert reconcile_pending(dialogs, FakeExecutions(**{"d-1": "RUNNING"}), older_than_s=0).found == 1


def test_the_grace_period_leaves_a_fresh_dialog_to_ingest() -> None:
    _, dialogs = pending(dialog(1, created_at=JUST_NOW))
    executions = FakeExecutions()
    assert reconcile_pending(dialogs, executions, older_than_s=120).found == 0 and executions.started == []


def test_recordings_asked_for_long_ago_without_an_outcome_are_asked_for_again() -> None:
    _, dialogs = pending(dialog(1), dialog(2), dialog(3),
                         d_1={"recording_pending": "pending-1", "recording_requested_at": LONG_AGO},
                         d_2={"recording_pending": "pending-1", "recording_requested_at": JUST_NOW})
    requests = FakeRecordingRequests()
    # When
    asked = reconcile_recordings(dialogs, requests, older_than_s=300)
    # Then only the one whose request is older than the KeepRecording timeout allows
    assert asked == ["d-1"] and requests.requested == ["d-1"]
