"""Retention arithmetic: which days apply and when an item expires."""

from __future__ import annotations

import pytest

from callhook.services.retention import expires_at, forget_removed_dialog, outside_the_table, retention_days
from tests.support.fakes import FakeLeftovers


@pytest.mark.parametrize(("channel", "default", "days"), [(None, 30, 30), (7, 30, 7), (0, 30, 0), (None, 0, 0)])
def test_channel_setting_wins_zero_included(channel: int | None, default: int, days: int) -> None:
    assert retention_days(channel, default) == days


def test_expires_that_many_days_after_the_call() -> None:
    assert expires_at("2026-12-01T10:00:00.000000Z", 7) == 1796119200 + 7 * 86_400
    assert expires_at("2026-12-01T10:00:00", 1) == 1796119200 + 86_400  # zoneless is UTC
    assert expires_at("2026-12-01T10:00:00Z", 0) is None


def test_what_of_a_removed_dialog_lives_outside_the_table() -> None:
    image = {"dialog_id": "d-1", "channel_id": "ch", "transcription_job": "stack-d-1",
             "recording": {"status": "kept", "s3_key": "recordings/ch/d-1.wav"},
             "transcription": {"status": "completed", "transcript_s3_key": "transcripts/ch/d-1.json"}}
    found = outside_the_table(image)
    assert found.object_keys == ["recordings/ch/d-1.wav", "transcripts/ch/d-1.json"]
    assert found.transcription_job == "stack-d-1"
    assert outside_the_table({"dialog_id": "d-2", "recording": None}).object_keys == []



EXPIRED = {"dialog_id": "d-1", "channel_id": "ch", "transcription_job": "stack-d-1",
           "recording": {"s3_key": "recordings/ch/d-1.wav"},
           "transcription": {"job_name": "stack-d-1", "transcript_s3_key": "transcripts/ch/d-1.json"}}


def test_an_expired_dialog_takes_its_objects_and_its_job_with_it() -> None:
    leftovers = FakeLeftovers({"recordings/ch/d-1.wav", "transcripts/ch/d-1.json", "recordings/ch/d-2.wav"},
                              {"stack-d-1", "stack-d-2"})
    # When
    done = forget_removed_dialog(EXPIRED, leftovers)
    # Then only what the dialog names goes; a retried batch finds nothing left and is harmless
    assert done.object_keys == ["recordings/ch/d-1.wav", "transcripts/ch/d-1.json"]
    assert leftovers.objects == {"recordings/ch/d-2.wav"} and leftovers.jobs == {"stack-d-2"}
    assert forget_removed_dialog(EXPIRED, leftovers).dialog_id == "d-1"


def test_an_object_that_could_not_be_deleted_fails_the_batch_so_the_stream_retries() -> None:
    leftovers = FakeLeftovers({"recordings/ch/d-1.wav"}, {"stack-d-1"}, undeletable={"recordings/ch/d-1.wav"})
    with pytest.raises(RuntimeError, match=r"recordings/ch/d-1\.wav: AccessDenied"):
        forget_removed_dialog(EXPIRED, leftovers)
    assert leftovers.jobs == {"stack-d-1"}  # the job waits for the retry too
