"""KeepRecording's decisions (services/recordings.keep_recording) on in-memory fakes: what is kept where, why a
recording is not kept, which failures Lambda retries, that a kept recording is never fetched again, and how the
copy lets transcription continue. The real path (HTTP, S3, the workflow): tests/integration/test_recordings.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callhook.errors import ActionConnectionError, BlockedDestinationError, DependencyUnavailableError
from callhook.models.call import Telephony
from callhook.models.channel import Channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Recording, RecordingStatus
from callhook.models.transcription import KeepRecordingRequest, TranscribeTask
from callhook.models.workflow import WorkflowState
from callhook.services.recordings import KeepRecordingSettings, RecordingPorts, keep_recording
from callhook.services.transcription import TranscriptionPorts, transcribe
from tests.support.fakes import (
    FakeChannels,
    FakeDialogs,
    FakeDownloads,
    FakeRecordingObjects,
    FakeSecrets,
    FakeTaskTokens,
    FakeTranscribe,
    FakeTranscriptionStore,
    FakeTranscripts,
)

SETTINGS = KeepRecordingSettings.model_validate({
    "CHANNELS_TABLE": "c", "DIALOGS_TABLE": "d", "EVENTS_TABLE": "e", "OPERATORS_TABLE": "o", "TOPICS_TABLE": "t",
    "ACTIONS_TABLE": "a", "SETTINGS_TABLE": "s", "RECORDINGS_BUCKET": "rec", "TRANSCRIBE_JOB_PREFIX": "stack-",
    "RECORDING_MAX_BYTES": 1_000_000})
URL = "https://media.pbx.example/r/1.wav"
WAV = (Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "call-8k.wav").read_bytes()
CHANNEL = Channel.model_validate({"channel_id": "ch", "webhook_token": "t" * 24, "recording_auth": {
    "type": "bearer", "token": "ssm:/callhook/pbx/token", "hosts": ["media.pbx.example"]}})


class World:
    def __init__(self, *answers: tuple[str, tuple[int, str, bytes] | Exception], url: str | None = URL,
                 recording: Recording | None = None) -> None:
        self.dialogs = FakeDialogs(Dialog(
            dialog_id="d-1", channel_id="ch", call_id="c", created_at="2026-12-01T00:00:00Z",
            telephony=Telephony(call_id="c", recording_url=url), enrichment=Enrichment(status=EnrichmentStatus.OK),
            recording=recording or (Recording() if url else None)))
        self.downloads = FakeDownloads(**dict(answers))
        self.objects = FakeRecordingObjects()
        self.jobs, self.tokens = FakeTranscribe(), FakeTaskTokens("tok-1")
        self.transcription = TranscriptionPorts(
            dialogs=self.dialogs, store=FakeTranscriptionStore(self.dialogs), channels=FakeChannels(CHANNEL),
            jobs=self.jobs, transcripts=FakeTranscripts(), tokens=self.tokens)
        self.io = RecordingPorts(transcription=self.transcription, downloads=self.downloads, objects=self.objects,
                                 secrets=FakeSecrets(**{"ssm:/callhook/pbx/token": "pbx-secret"}))

    def keep(self) -> Recording | None:
        return keep_recording(KeepRecordingRequest(dialog_id="d-1"), self.io, SETTINGS)

    def wait_in_the_workflow(self) -> None:
        task = TranscribeTask(state=WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c",
                                                  auto_transcription=True, operator_id=17), task_token="tok-1")
        transcribe(task, self.transcription, SETTINGS)

    @property
    def recording(self) -> Recording | None:
        return self.dialogs.dialog("d-1").recording


def test_a_recording_is_kept_under_its_dialog_with_what_its_bytes_are() -> None:
    world = World((URL, (200, "application/octet-stream", WAV)))
    # When
    kept = world.keep()
    # Then stored where transcription reads it, described by its bytes, fetched with the channel's credentials
    assert kept is not None and kept.status == RecordingStatus.KEPT
    assert kept.s3_key == "recordings/ch/d-1.wav" and world.objects.objects[kept.s3_key] == (WAV, "audio/wav")
    assert (kept.media_format, kept.sample_rate_hz, kept.channels, kept.size) == ("wav", 8000, 1, len(WAV))
    assert world.recording == kept
    assert world.downloads.fetched == [(URL, {"Authorization": "Bearer pbx-secret"}, None)]


def test_a_kept_recording_is_never_fetched_again() -> None:
    world = World((URL, (200, "audio/wav", WAV)))
    world.keep()
    # When the request comes again (a lost answer, the reconciler)
    again = world.keep()
    # Then
    assert again == world.recording and len(world.downloads.fetched) == 1


def test_nothing_to_keep_without_a_dialog_or_a_url() -> None:
    assert World(url=None).keep() is None
    world = World()
    assert keep_recording(KeepRecordingRequest(dialog_id="nobody"), world.io, SETTINGS) is None
    assert world.downloads.fetched == []


@pytest.mark.parametrize(("answer", "code"), [
    ((404, "text/html", b"gone"), "recording_expired"),
    ((200, "text/html", b"<html>log in</html>"), "recording_not_audio"),
    ((200, "audio/wav", b"RIFFnot really a wave file at all"), "recording_unsupported_format"),
    ((401, "application/json", b"{}"), "recording_unauthorized"),
    (BlockedDestinationError("10.0.0.1 is a private address"), "recording_blocked"),
], ids=["expired", "login-page", "not-audio", "unauthorized", "private-address"])
def test_a_recording_that_cannot_be_kept_says_why_and_is_not_retried(answer: object, code: str) -> None:
    world = World((URL, answer))  # type: ignore[arg-type]
    # When
    failed = world.keep()
    # Then
    assert failed is not None and failed.status == RecordingStatus.FAILED
    assert failed.reason is not None and failed.reason.code == code
    assert failed.source_host == "media.pbx.example" and world.objects.objects == {}


@pytest.mark.parametrize("content_type", ["text/html", "image/png"])
def test_a_page_served_as_the_recording_is_named_by_type_and_size_never_by_its_bytes(content_type: str) -> None:
    # Given a recording URL that answers an internal page carrying a token
    page = b"<html>internal admin console; session=SECRET-TOKEN-123</html>"
    world = World((URL, (200, content_type, page)))
    # When
    failed = world.keep()
    # Then: the reason says what came back, and nothing of what it said
    assert failed is not None and failed.reason is not None
    reason = failed.reason.model_dump(mode="json")
    assert reason["code"] == "recording_not_audio"
    assert reason["content_type"] == content_type and reason["size"] == len(page)
    assert f"{len(page)} bytes" in reason["message"]
    assert "SECRET" not in json.dumps(reason) and "internal" not in json.dumps(reason)


@pytest.mark.parametrize("answer", [(503, "text/plain", b"busy"), ActionConnectionError("connection refused")],
                         ids=["5xx", "unreachable"])
def test_a_source_that_may_recover_is_recorded_then_retried_and_kept_later(answer: object) -> None:
    world = World((URL, answer))  # type: ignore[arg-type]
    # When the first attempt meets a failure that may pass
    with pytest.raises(DependencyUnavailableError):
        world.keep()
    # Then the dialog says why meanwhile, and Lambda's retry keeps it once the source answers
    assert world.recording is not None and world.recording.status == RecordingStatus.FAILED
    world.downloads.answers[URL] = (200, "audio/wav", WAV)
    assert (kept := world.keep()) is not None and kept.status == RecordingStatus.KEPT
    assert world.recording == kept


def test_credentials_go_only_to_the_hosts_the_channel_names() -> None:
    other = "https://cdn.elsewhere.example/r.wav"
    world = World((other, (200, "audio/wav", WAV)), url=other)
    # When
    kept = world.keep()
    # Then fetched without them, and the dialog says so
    assert world.downloads.fetched == [(other, {}, None)]
    assert kept is not None and kept.warning is not None
    assert kept.warning.code == "recording_credentials_withheld"


def test_a_channel_secret_that_cannot_be_read_is_the_reason() -> None:
    world = World((URL, (200, "audio/wav", WAV)))
    world.io = RecordingPorts(transcription=world.transcription, downloads=world.downloads, objects=world.objects,
                              secrets=FakeSecrets())
    failed = world.keep()
    assert failed is not None and failed.reason is not None and failed.reason.code == "recording_credentials"
    assert world.downloads.fetched == []


def test_the_copy_starts_the_transcription_that_waited_for_it() -> None:
    world = World((URL, (200, "audio/wav", WAV)))
    world.wait_in_the_workflow()  # the Transcribe step parked its token: the recording was being copied
    assert world.jobs.started == []
    # When
    world.keep()
    # Then the job reads the kept recording, and the waiting state hears it started
    [request] = world.jobs.started
    assert request["Media"] == {"MediaFileUri": "s3://rec/recordings/ch/d-1.wav"}
    assert world.tokens.heartbeats == ["tok-1"]


def test_a_copy_that_failed_for_good_ends_the_waiting_transcription() -> None:
    world = World((URL, (410, "text/plain", b"gone")))
    world.wait_in_the_workflow()
    world.keep()
    assert world.jobs.started == []
    assert [(t, out["status"], out["reason"]) for t, out in world.tokens.answers] == [
        ("tok-1", "skipped", "recording_not_kept")]
