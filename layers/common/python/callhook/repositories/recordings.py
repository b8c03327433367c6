"""Adapters of the recording ports (`callhook.ports`): the outbound download of a recording URL, the recordings
bucket, and the secrets resolver. KeepRecording's `app.py` builds them once per sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook.errors import DependencyUnavailableError
from callhook.models.transcription import Fetched
from callhook.outbound import safe_request


class OutboundDownloads:
    """callhook.outbound's safe GET, streamed into the sink."""

    def fetch(self, url: str, sink: BinaryIO, *, allow_private_network: bool, timeout_s: float, max_bytes: int,
              headers: dict[str, str], auth: tuple[str, str] | None) -> Fetched:
        # Every header of recording_auth carries a secret: none follows a redirect to another origin.
        response = safe_request("GET", url, allow_private_network=allow_private_network, timeout_s=timeout_s,
                                max_bytes=max_bytes, headers=headers, auth=auth, stream_to=sink,
                                secret_headers=list(headers))
        content_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        return Fetched(status=response.status, content_type=content_type)


@dataclass(frozen=True)
class S3RecordingObjects:
    bucket: str

    def store(self, body: IO[bytes], key: str, content_type: str) -> None:
        try:
            client("s3").upload_fileobj(body, self.bucket, key, ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailableError(f"storing the recording in S3 failed: {exc}") from exc

