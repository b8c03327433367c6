"""The TranscriptionMinutes metric the dashboard charts: what Transcribe bills, the recording's length."""

from __future__ import annotations

from callhook.models.dialog import Transcription, TranscriptionStatus
from callhook.services.transcript import audio_minutes as _audio_minutes


def test_transcription_minutes_are_the_recordings_length() -> None:
    # its container's length, else the call's duration, else where the last recognised word ends
    done = Transcription(status=TranscriptionStatus.COMPLETED, turns=[{"speaker": "spk_0", "end_s": 42.0}])
    assert _audio_minutes({"recording": {"duration_s": 90.0}, "telephony": {"duration": 120}}, done) == 1.5
    assert _audio_minutes({"recording": {"duration_s": None}, "telephony": {"duration": 120}}, done) == 2.0
    assert _audio_minutes({"recording": None, "telephony": {}}, done) == 0.7
    assert _audio_minutes(None, Transcription(status=TranscriptionStatus.COMPLETED)) is None
