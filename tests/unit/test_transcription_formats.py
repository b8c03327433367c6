"""Pure logic of transcription and recordings: the decision, the job request, transcripts, audio formats, and the
local engine's WAV reading and resampling. No AWS."""

from __future__ import annotations

import struct
from array import array
from pathlib import Path

import pytest
from pydantic import ValidationError

from callhook.models.call import Telephony
from callhook.models.channel import Channel, RecordingAuth
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Recording, RecordingStatus
from callhook.models.workflow import StepError, WorkflowState
from callhook.services.recordings import RecordingNotKeptError, audio_info, sniff_format, wav_info
from callhook.services.transcript import parse_transcript
from callhook.services.transcription_decision import transcription_decision
from callhook.services.transcription_job import job_request
from callhook.settings import TranscriptionSettings
from callhook_local.transcribe import (
    MODEL_FILES,
    MediaError,
    Word,
    model_files,
    output_key,
    read_wav,
    resample,
    transcript_document,
)

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
SETTINGS = TranscriptionSettings.model_validate({
    "CHANNELS_TABLE": "c", "DIALOGS_TABLE": "d", "EVENTS_TABLE": "e", "OPERATORS_TABLE": "o", "TOPICS_TABLE": "t",
    "ACTIONS_TABLE": "a", "SETTINGS_TABLE": "s", "RECORDINGS_BUCKET": "rec-bucket", "TRANSCRIBE_JOB_PREFIX": "stk-"})


def dialog(recording: Recording | None = None, url: str | None = "https://pbx.example.com/r.wav") -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c", created_at="2026-01-01T00:00:00Z",
                  telephony=Telephony(call_id="c", recording_url=url), enrichment=Enrichment(
                      status=EnrichmentStatus.DISABLED), recording=recording)


def state(**fields) -> WorkflowState:
    return WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c", **{"auto_transcription": True,
                                                                           "operator_id": 17, **fields})


KEPT = Recording(status=RecordingStatus.KEPT, s3_key="recordings/ch/d-1.wav", media_format="wav", channels=1,
                 sample_rate_hz=8000)


# ---------------------------------------------------------------------------------------------------- decision


@pytest.mark.parametrize(("the_state", "the_dialog", "expected"), [
    (state(auto_transcription=False), dialog(KEPT), ("not_requested", "auto_transcription_off")),
    (state(operator_id=None, error=StepError(Error="ActionHTTPError")), dialog(KEPT),
     ("skipped", "enrichment_failed_do_not_assign")),
    (state(operator_id=None), dialog(KEPT), ("skipped", "no_operator")),
    (state(), dialog(None, url=None), ("skipped", "no_recording")),
    (state(), dialog(Recording(status=RecordingStatus.FAILED, reason={"code": "recording_expired",
                                                                       "message": "404"})),
     ("skipped", "recording_not_kept")),
], ids=["off", "do_not_assign", "no_operator", "no_recording", "not_kept"])
def test_transcription_decision_names_the_first_missing_condition(the_state, the_dialog, expected) -> None:
    # When
    decided = transcription_decision(the_state, the_dialog)
    # Then
    assert decided is not None
    assert (decided.status.value, decided.reason.code) == expected


def test_transcription_decision_transcribes_after_assign_admin_with_a_recording_kept_or_pending() -> None:
    # Given enrichment failed but assign_admin gave the default operator
    admin = state(operator_id=1, enrich_error_action="assign_admin", error=StepError(Error="ActionHTTPError"))
    # Then
    assert transcription_decision(admin, dialog(KEPT)) is None
    assert transcription_decision(admin, dialog(Recording())) is None
    assert transcription_decision(admin, dialog(None)) is None  # URL known, copy not reported yet: pending


# ---------------------------------------------------------------------------------------------------- job request


def test_job_request_for_a_mono_recording_separates_speakers_and_identifies_the_language() -> None:
    # When
    request = job_request(dialog(KEPT), None, "stk-d-1", SETTINGS)
    # Then
    assert request == {
        "TranscriptionJobName": "stk-d-1", "Media": {"MediaFileUri": "s3://rec-bucket/recordings/ch/d-1.wav"},
        "OutputBucketName": "rec-bucket", "OutputKey": "transcripts/ch/d-1.json", "MediaFormat": "wav",
        "MediaSampleRateHertz": 8000, "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 2},
        "IdentifyLanguage": True, "LanguageOptions": ["en-US", "es-US", "de-DE", "fr-FR", "ru-RU"]}


def test_job_request_for_a_stereo_recording_identifies_channels_in_the_channels_language() -> None:
    # Given
    channel = Channel.model_validate({"channel_id": "ch", "webhook_token": "x" * 16, "advanced_config": {
        "transcription": {"language": "es-US", "max_speakers": 4}}})
    stereo = KEPT.model_copy(update={"channels": 2})
    # When
    request = job_request(dialog(stereo), channel, "stk-d-1", SETTINGS)
    # Then
    assert request["Settings"] == {"ChannelIdentification": True}
    assert request["LanguageCode"] == "es-US"
    assert "IdentifyLanguage" not in request


def test_job_request_with_a_single_listed_language_names_it() -> None:
    channel = Channel.model_validate({"channel_id": "ch", "webhook_token": "x" * 16, "advanced_config": {
        "transcription": {"languages": ["ru-RU"]}}})
    assert job_request(dialog(KEPT), channel, "stk-d-1", SETTINGS)["LanguageCode"] == "ru-RU"


# ---------------------------------------------------------------------------------------------------- transcripts


def test_parse_transcript_builds_speaker_turns_with_punctuation() -> None:
    # Given Transcribe's output with speaker labels on the items
    def word(text, start, end, speaker):
        return {"type": "pronunciation", "start_time": str(start), "end_time": str(end), "speaker_label": speaker,
                "alternatives": [{"content": text, "confidence": "0.99"}]}
    document = {"results": {"language_code": "en-US", "transcripts": [{"transcript": "Hello. Hi there."}],
                            "items": [word("Hello", 0.1, 0.5, "spk_0"),
                                      {"type": "punctuation", "alternatives": [{"content": "."}]},
                                      word("Hi", 0.9, 1.1, "spk_1"), word("there", 1.1, 1.4, "spk_1"),
                                      {"type": "punctuation", "alternatives": [{"content": "."}]}]}}
    # When
    text, turns, language = parse_transcript(document)
    # Then
    assert text == "Hello. Hi there."
    assert language == "en-US"
    assert turns == [{"speaker": "spk_0", "start_s": 0.1, "end_s": 0.5, "text": "Hello."},
                     {"speaker": "spk_1", "start_s": 0.9, "end_s": 1.4, "text": "Hi there."}]


def test_parse_transcript_reads_labels_from_channel_blocks_and_segments() -> None:
    # Given the older layouts: labels only in channel_labels, or only in speaker_labels.segments
    item = {"type": "pronunciation", "alternatives": [{"content": "yes"}]}
    by_channel = {"results": {"transcripts": [{"transcript": "yes no"}], "items": [], "channel_labels": {
        "channels": [{"channel_label": "ch_1", "items": [{**item, "start_time": "2.0", "end_time": "2.2",
                                                          "alternatives": [{"content": "no"}]}]},
                     {"channel_label": "ch_0", "items": [{**item, "start_time": "0.5", "end_time": "0.7"}]}]}}}
    by_segment = {"results": {"transcripts": [{"transcript": "yes"}],
                              "items": [{**item, "start_time": "0.5", "end_time": "0.7"}],
                              "speaker_labels": {"segments": [{"start_time": "0.0", "end_time": "1.0",
                                                               "speaker_label": "spk_3"}]}}}
    # Then
    assert [t["speaker"] for t in parse_transcript(by_channel)[1]] == ["ch_0", "ch_1"]
    assert parse_transcript(by_segment)[1][0]["speaker"] == "spk_3"


def test_local_engine_output_reads_back_as_the_same_words() -> None:
    # Given what the local engine writes for two channels
    words = [Word("good", 0.1, 0.4, 0.9, "ch_0"), Word("bye", 1.0, 1.3, 0.8, "ch_1")]
    document = transcript_document("job", "123", words, language="en-US", by_channel=True)
    # When
    text, turns, language = parse_transcript(document)
    # Then
    assert (text, language) == ("good bye", "en-US")
    assert [(t["speaker"], t["text"]) for t in turns] == [("ch_0", "good"), ("ch_1", "bye")]
    assert document["results"]["channel_labels"]["number_of_channels"] == 2


def test_local_engine_writes_punctuation_as_items_of_its_own() -> None:
    # Given words as the engine hears them, with the punctuation that follows them
    words = [Word("Hello", 0.0, 0.5, 0.7, "spk_0", punctuation=","), Word("there", 0.6, 0.9, 0.9, "spk_0", ".")]
    # When
    document = transcript_document("job", "123", words, language="en-US")
    # Then the items are Transcribe's: a pronunciation with times, a punctuation without
    items = document["results"]["items"]
    assert [(i["type"], i["alternatives"][0]["content"], "start_time" in i) for i in items] == [
        ("pronunciation", "Hello", True), ("punctuation", ",", False), ("pronunciation", "there", True),
        ("punctuation", ".", False)]
    assert [i["id"] for i in items] == [0, 1, 2, 3]
    # And it reads back as the text Transcribe would write
    text, turns, _ = parse_transcript(document)
    assert text == "Hello, there."
    assert turns == [{"speaker": "spk_0", "start_s": 0.0, "end_s": 0.9, "text": "Hello, there."}]
    assert [len(s["items"]) for s in document["results"]["speaker_labels"]["segments"]] == [2]


def test_model_files_refuse_files_that_are_not_the_pinned_ones(tmp_path: Path) -> None:
    # Given a model folder whose files have the right names but not the pinned bytes
    for name in MODEL_FILES:
        (tmp_path / name).write_bytes(b"not the model")
    # Then nothing is loaded: the first file is refused with its digest
    with pytest.raises(MediaError, match=r"model\.bin is not the pinned one \(13 bytes, sha256 "):
        model_files(tmp_path)
    # And a missing file is named
    (tmp_path / "model.bin").unlink()
    with pytest.raises(MediaError, match=r"model file model\.bin cannot be read"):
        model_files(tmp_path)


@pytest.mark.parametrize(("key", "expected"), [
    (None, "job.json"), ("transcripts/", "transcripts/job.json"), ("t/x.json", "t/x.json"), ("t/x", "t/x.json")])
def test_output_key_follows_transcribes_rules(key, expected) -> None:
    assert output_key(key, "job") == expected


# ---------------------------------------------------------------------------------------------------- audio


@pytest.mark.parametrize(("head", "expected"), [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"), (b"fLaC\x00", "flac"), (b"OggS\x00", "ogg"),
    (b"\x1a\x45\xdf\xa3\x01", "webm"), (b"#!AMR\n", "amr"), (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
    (b"\x00\x00\x00\x20ftypisom", "mp4"), (b"ID3\x04", "mp3"), (b"\xff\xfb\x90\x00", "mp3"),
    (b"\xff\xf1\x50\x80", None), (b"<html>", None), (b"", None),
], ids=["wav", "flac", "ogg", "webm", "amr", "m4a", "mp4", "id3", "mpeg-frame", "adts-aac", "html", "empty"])
def test_sniff_format_reads_the_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


@pytest.mark.parametrize(("name", "channels", "rate", "duration"), [
    ("call-16k.wav", 1, 16000, 5.685), ("call-8k.wav", 1, 8000, 3.92), ("stereo-8k.wav", 2, 8000, 5.28)])
def test_wav_info_reads_the_fixtures_headers(name: str, channels: int, rate: int, duration: float) -> None:
    data = (AUDIO / name).read_bytes()
    info = wav_info(data[:65536], len(data))
    assert (info.channels, info.sample_rate_hz) == (channels, rate)
    assert info.duration_s == pytest.approx(duration, abs=0.01)


@pytest.mark.parametrize(("data", "content_type", "code"), [
    (b"<html>", "text/html", "recording_not_audio"), (b"RIFF....WAVE", "image/png", "recording_not_audio"),
    (b"\x00" * 64, "audio/wav", "recording_unsupported_format"), (b"", "audio/wav", "recording_empty")])
def test_audio_info_refuses_what_is_not_a_recording(data: bytes, content_type: str, code: str) -> None:
    with pytest.raises(RecordingNotKeptError) as caught:
        audio_info(data, len(data), content_type)
    assert caught.value.code == code


def _wav(code: int, channels: int, rate: int, bits: int, payload: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("code", "bits", "payload", "expected"), [
    (1, 16, struct.pack("<3h", 0, 1000, -1000), [0, 1000, -1000]),
    (1, 8, bytes([128, 255, 0]), [0, 127 << 8, -128 << 8]),
    (7, 8, bytes([0xFF, 0x80, 0x00]), [0, 32124, -32124]),  # mu-law: silence, then the extremes
    (6, 8, bytes([0xD5, 0xAA, 0x2A]), [8, 32256, -32256]),  # A-law
    (3, 32, struct.pack("<3f", 0.0, 0.5, -1.0), [0, 16383, -32767]),
], ids=["pcm16", "pcm8", "mulaw", "alaw", "float32"])
def test_read_wav_decodes_telephony_encodings_to_16_bit(code, bits, payload, expected) -> None:
    audio = read_wav(_wav(code, 1, 8000, bits, payload))
    assert list(audio.channels[0]) == expected


def test_read_wav_splits_stereo_and_refuses_other_formats() -> None:
    stereo = read_wav(_wav(1, 2, 8000, 16, struct.pack("<4h", 1, -1, 2, -2)))
    assert [list(c) for c in stereo.channels] == [[1, 2], [-1, -2]]
    with pytest.raises(MediaError, match="WAV only"):
        read_wav(b"ID3\x04" + b"\x00" * 20)
    with pytest.raises(MediaError, match="Unsupported WAV encoding"):
        read_wav(_wav(2, 1, 8000, 4, b"\x00" * 8))  # ADPCM


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_resample_keeps_duration_and_level(rate: int) -> None:
    # Given one second of a constant level
    samples = array("h", [1000] * rate)
    # When
    out = resample(samples, rate)
    # Then
    assert len(out) == pytest.approx(16000, abs=2)
    assert set(out) == {1000}


# ---------------------------------------------------------------------------------------------------- channel model


def test_recording_auth_takes_secret_references_only() -> None:
    assert RecordingAuth(type="basic", username="AC1", password="ssm:/callhook/t").password == "ssm:/callhook/t"
    with pytest.raises(ValidationError, match="secret reference"):
        RecordingAuth(type="basic", username="AC1", password="plain-token")
    with pytest.raises(ValidationError, match="needs token"):
        RecordingAuth(type="bearer")
    with pytest.raises(ValidationError, match="needs header"):
        RecordingAuth(type="header", value="secretsmanager:callhook/x")
