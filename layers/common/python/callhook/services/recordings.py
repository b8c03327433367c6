"""Keeping the call's recording: copy it into the recordings bucket as soon as its URL is known.

Why at once, and apart from the workflow: providers' links expire within minutes (Aircall and Telnyx sign them
for about ten) or need credentials (Twilio: HTTP Basic with the account SID and token), so a slow or retried
enrichment must not make us lose the recording. Ingest (first event), the update path, BeginWorkflow (updates
that came early) and Enrich (a URL the action returned) each ask the KeepRecording function asynchronously
(`ports.RecordingRequests`, adapter `repositories/recording_requests.py`); it downloads with the outbound rules of
actions (no private addresses unless the channel says `allow_private_network`), streamed and size-capped, checks that
the bytes are audio Transcribe reads, stores them, and records on the dialog where they are or why they could not be
kept. Then it lets transcription continue (`services.transcription.continue_after_recording`).

Over `callhook.ports` (`RecordingPorts`): `functions/keep_recording/app.py` builds the adapters,
`tests/unit/test_keep_recording.py` hands in fakes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from callhook.clock import utc_now
from callhook.errors import (
    ActionConnectionError,
    ActionResponseTooLargeError,
    ActionTimeoutError,
    ActionTooManyRedirectsError,
    BlockedDestinationError,
    ChannelConfigError,
    DependencyUnavailableError,
    SecretUnreadableError,
)
from callhook.media import is_wav, wav_layout
from callhook.models.channel import RECORDING_SECRET_PREFIXES, Channel, RecordingAuth, effective_channel
from callhook.models.dialog import Dialog, Reason, Recording, RecordingStatus
from callhook.models.transcription import Fetched, KeepRecordingRequest
from callhook.observability import logger, metrics, tracer
from callhook.outbound import classify_address
from callhook.ports import Channels, RecordingDownloads, RecordingObjects, Secrets
from callhook.services.transcription import TranscriptionPorts, continue_after_recording
from callhook.settings import TranscriptionSettings

# Content types that can never be a recording: an expired link often answers 200 with an HTML or JSON page.
_NOT_AUDIO_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/problem")
_AUDIO_TYPES = ("audio/", "video/", "application/octet-stream", "binary/octet-stream", "application/ogg")
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg",
                 "webm": "audio/webm", "amr": "audio/amr", "mp4": "video/mp4", "m4a": "audio/mp4"}
_SNIFF_BYTES = 64 * 1024  # enough for a WAV header with LIST/fact chunks before `data`
_SPOOL_BYTES = 8 * 1024 * 1024  # past this the copy spills from memory to /tmp


class KeepRecordingSettings(TranscriptionSettings):
    max_bytes: int = Field(alias="RECORDING_MAX_BYTES", default=200 * 1024 * 1024, gt=0)
    timeout_s: float = Field(alias="RECORDING_TIMEOUT_S", default=120.0, gt=0)


class RecordingNotKeptError(Exception):
    """Why one download failed; becomes the dialog's `recording.reason` (never leaves this module)."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, **details: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.retryable, self.details = code, message, retryable, details

    def reason(self) -> Reason:
        return Reason(code=self.code, message=self.message, **self.details)


@dataclass(frozen=True)
class AudioInfo:
    media_format: str
    channels: int | None = None
    sample_rate_hz: int | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class RecordingPorts:
    """What keeping a recording needs from the world; built once per sandbox by KeepRecording's `app.py`."""

    transcription: TranscriptionPorts
    downloads: RecordingDownloads
    objects: RecordingObjects
    secrets: Secrets


# ---------------------------------------------------------------------------------------------------- keeping


@tracer.capture_method(capture_response=False)
def keep_recording(request: KeepRecordingRequest, io: RecordingPorts,
                   settings: KeepRecordingSettings) -> Recording | None:
    """Copy the recording once, record the outcome on the dialog, then let transcription continue.

    Returns None when there is nothing to copy (no dialog, no URL).

    Raises:
        DependencyUnavailableError: the provider answered 5xx / timed out / was unreachable, or S3 or DynamoDB
            throttled. The outcome is on the dialog already; Lambda's asynchronous retries try again.
    """
    dialog = io.transcription.dialogs.get(request.dialog_id)
    if dialog is None or not dialog.telephony.recording_url:
        logger.info("nothing to keep", dialog_id=request.dialog_id, has_dialog=dialog is not None)
        return None
    if dialog.recording is not None and dialog.recording.status == RecordingStatus.KEPT:
        # idempotent: a repeated request only re-checks
        continue_after_recording(dialog.dialog_id, io.transcription, settings)
        return dialog.recording
    failure: RecordingNotKeptError | None = None
    access: RecordingAccess | None = None
    try:
        channel = _channel(dialog, io.transcription.channels)
        access = recording_access(dialog.telephony.recording_url or "", channel, io.secrets)
        recording = _copy(dialog, channel, access, io, settings)
    except RecordingNotKeptError as exc:
        failure = exc
        recording = Recording(status=RecordingStatus.FAILED, reason=exc.reason(), source_host=_host(dialog),
                              warning=access.warning if access else None)
    stored = io.transcription.store.set_recording(dialog.dialog_id, recording)
    logger.info("recording kept" if recording.status == RecordingStatus.KEPT else "recording not kept",
                code=recording.reason.code if recording.reason else None, size=recording.size, stored=stored)
    metrics.add_metric(name="RecordingKept" if recording.status == RecordingStatus.KEPT else "RecordingNotKept",
                       unit=MetricUnit.Count, value=1)
    continue_after_recording(dialog.dialog_id, io.transcription, settings)
    if failure is not None and failure.retryable:
        raise DependencyUnavailableError(failure.message)
    return recording


@dataclass(frozen=True)
class RecordingAccess:
    """What the download of one recording URL sends: the channel's credentials when its host is listed."""

    auth: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    warning: Reason | None = None  # the credentials were withheld: the dialog and the log say so


def recording_access(url: str, channel: Channel | None, secrets: Secrets) -> RecordingAccess:
    """The channel's recording_auth for `url` when the URL's host is in `recording_auth.hosts`, else nothing.

    A recording URL comes from the provider's event, which an attacker may have forged, or from an update: the
    credentials (Twilio's account SID and auth token) go only to the hosts the admin (or the preset) named.
    """
    auth_config = channel.recording_auth if channel else None
    if auth_config is None:
        return RecordingAccess()
    parts = urlsplit(url)
    host = parts.hostname
    why = None
    if not auth_config.sends_to(host):
        why = f"{host or '(no host)'} is not in recording_auth.hosts {auth_config.hosts}"
    elif parts.scheme.lower() != "https" and not _local_address(host):
        why = f"the URL is {parts.scheme}://, and credentials are sent over https only"
    if why is None:
        auth, headers = recording_credentials(auth_config, secrets)
        return RecordingAccess(auth=auth, headers=headers)
    warning = Reason(code="recording_credentials_withheld", message=f"the channel's recording_auth was not sent: "
                     f"{why}; the recording was fetched without credentials", host=host, hosts=auth_config.hosts)
    logger.warning("recording credentials withheld", host=host, reason=why)
    metrics.add_metric(name="RecordingCredentialsWithheld", unit=MetricUnit.Count, value=1)
    return RecordingAccess(warning=warning)


def _local_address(host: str | None) -> bool:
    """A literal loopback or private address (the local stack's fake systems), where plain http stays on the box
    or the network the admin allowed with allow_private_network."""
    try:
        return host is not None and classify_address(host) is not None
    except ValueError:
        return False


def _copy(dialog: Dialog, channel: Channel | None, access: RecordingAccess, io: RecordingPorts,
          settings: KeepRecordingSettings) -> Recording:
    url = dialog.telephony.recording_url or ""
    allow_private = bool(channel and channel.allow_private_network)
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
        response = _download(io.downloads, url, cast(BinaryIO, body), allow_private=allow_private,
                             access=access, settings=settings)
        size = body.tell()
        body.seek(0)
        head = body.read(_SNIFF_BYTES)
        declared = response.content_type
        info = audio_info(head, size, declared)
        key = f"recordings/{dialog.channel_id}/{dialog.dialog_id}.{info.media_format}"
        body.seek(0)
        io.objects.store(body, key, CONTENT_TYPES[info.media_format])
    return Recording(status=RecordingStatus.KEPT, s3_key=key, size=size, content_type=declared or None,
                     media_format=info.media_format, duration_s=info.duration_s, channels=info.channels,
                     sample_rate_hz=info.sample_rate_hz, source_host=_host(dialog), warning=access.warning,
                     kept_at=utc_now())


def _channel(dialog: Dialog, channels: Channels) -> Channel | None:
    """The channel as ingest uses it: with its preset's media hosts filled into recording_auth.hosts."""
    try:
        channel = channels.get(dialog.channel_id)
        return effective_channel(channel) if channel is not None else None
    except ChannelConfigError as exc:
        raise RecordingNotKeptError("channel_invalid", f"the channel item is invalid: {exc}") from exc


def recording_credentials(auth: RecordingAuth | None,
                          secrets: Secrets) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """The channel's recording credentials as (basic auth, headers), secrets read from SSM / Secrets Manager."""
    if auth is None:
        return None, {}
    try:
        if auth.type == "basic":
            return (_secret_or_value(auth.username or "", secrets), secrets.read(auth.password or "")), {}
        if auth.type == "bearer":
            return None, {"Authorization": f"Bearer {secrets.read(auth.token or '')}"}
        return None, {auth.header or "": secrets.read(auth.value or "")}
    except SecretUnreadableError as exc:
        raise RecordingNotKeptError("recording_credentials", f"the channel's recording_auth could not be read: "
                                    f"{exc.message}") from exc


def _secret_or_value(value: str, secrets: Secrets) -> str:
    return secrets.read(value) if value.startswith(RECORDING_SECRET_PREFIXES) else value


def _download(downloads: RecordingDownloads, url: str, sink: BinaryIO, *, allow_private: bool,
              access: RecordingAccess, settings: KeepRecordingSettings) -> Fetched:
    host = urlsplit(url).hostname or "(no host)"
    try:
        response = downloads.fetch(url, sink, allow_private_network=allow_private, timeout_s=settings.timeout_s,
                                   max_bytes=settings.max_bytes, headers=access.headers, auth=access.auth)
    except BlockedDestinationError as exc:
        raise RecordingNotKeptError("recording_blocked", f"the recording URL was refused: {exc.message}",
                                    host=host) from exc
    except ActionResponseTooLargeError as exc:
        raise RecordingNotKeptError("recording_too_large", f"the recording is larger than {settings.max_bytes} "
                                    "bytes (RECORDING_MAX_BYTES)", host=host) from exc
    except ActionTooManyRedirectsError as exc:
        raise RecordingNotKeptError("recording_too_many_redirects", exc.message, host=host) from exc
    except ActionTimeoutError as exc:
        raise RecordingNotKeptError("recording_timeout", f"{host} did not deliver the recording within "
                                    f"{settings.timeout_s:g}s", host=host, retryable=True) from exc
    except ActionConnectionError as exc:
        raise RecordingNotKeptError("recording_unreachable", f"the recording URL is unreachable: {exc.message}",
                                    host=host, retryable=True) from exc
    status = response.status
    if status in (403, 404, 410):
        raise RecordingNotKeptError("recording_expired", f"{host} answered {status} for the recording: the link "
                                    "expired, or the recording was deleted", host=host, http_status=status)
    if status == 401 and access.warning is not None:
        raise RecordingNotKeptError("recording_unauthorized", f"{host} answered 401, and {access.warning.message}",
                                    host=host, http_status=status)
    if status == 401:
        raise RecordingNotKeptError("recording_unauthorized", f"{host} answered 401: the channel's recording_auth "
                                    "is missing or wrong", host=host, http_status=status)
    if status == 429 or status >= 500:
        raise RecordingNotKeptError("recording_source_error", f"{host} answered {status} for the recording",
                                    host=host, http_status=status, retryable=True)
    if status != 200:
        raise RecordingNotKeptError("recording_http_status", f"{host} answered {status} for the recording",
                                    host=host, http_status=status)
    return response


def _host(dialog: Dialog) -> str | None:
    return urlsplit(dialog.telephony.recording_url or "").hostname


# ---------------------------------------------------------------------------------------------------- audio


def audio_info(head: bytes, size: int, declared_type: str = "") -> AudioInfo:
    """What the downloaded bytes are. The declared content type only vetoes (an HTML error page served with 200);
    the bytes decide the format, since providers label recordings loosely (`application/octet-stream`).

    Raises:
        RecordingNotKeptError: not audio, or a format Amazon Transcribe does not read.
    """
    if size == 0:
        raise RecordingNotKeptError("recording_empty", "the recording URL answered an empty body")
    # The reason names the type and size only: the bytes may be an internal page or carry tokens, and the dialog
    # is read by every admin and kept for the channel's retention.
    if declared_type.startswith(_NOT_AUDIO_TYPES):
        raise RecordingNotKeptError("recording_not_audio", f"the recording URL answered {declared_type!r} "
                                    f"({size} bytes), not audio (an error or login page?)",
                                    content_type=declared_type, size=size)
    if declared_type and not declared_type.startswith(_AUDIO_TYPES):
        raise RecordingNotKeptError("recording_not_audio", f"content type {declared_type!r} ({size} bytes) is not "
                                    "audio", content_type=declared_type, size=size)
    media_format = sniff_format(head)
    if media_format is None:
        raise RecordingNotKeptError("recording_unsupported_format", "the file is not in a format Amazon Transcribe "
                                    "reads (WAV, MP3, FLAC, Ogg, WebM, AMR, MP4/M4A)",
                                    content_type=declared_type or None)
    if media_format == "wav":
        return wav_info(head, size)
    return AudioInfo(media_format=media_format)


def sniff_format(head: bytes) -> str | None:
    if is_wav(head):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:11] == b"M4A" else "mp4"
    if head[:3] == b"ID3":
        return "mp3"
    # An MPEG audio frame: 11 sync bits, then a layer that is not the reserved 00 (which ADTS AAC uses).
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3:
        return "mp3"
    return None


def wav_info(head: bytes, size: int) -> AudioInfo:
    """Channels, rate and duration from a RIFF/WAVE header (`fmt ` and `data` chunks)."""
    layout = wav_layout(head, size)
    return AudioInfo(media_format="wav", channels=layout.channels, sample_rate_hz=layout.sample_rate,
                     duration_s=layout.duration_s)

