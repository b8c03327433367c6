"""Retention arithmetic: which days apply and when an item expires."""

from __future__ import annotations

import pytest

from callhook.services.retention import expires_at, outside_the_table, retention_days


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

