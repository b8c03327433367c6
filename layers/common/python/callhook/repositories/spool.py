"""The spool: authenticated requests kept as S3 objects when DynamoDB could not take them.

It is the second durable store of "answered 2xx ⇔ durably kept" (docs/webhook-api.md): S3 shares no failure with the
tables. Keys start with the arrival time, so a listing returns requests in the order they arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook.errors import DependencyUnavailableError
from callhook.models.event import SET_ASIDE_PREFIX as SET_ASIDE_PREFIX
from callhook.models.event import SPOOL_PREFIX as SPOOL_PREFIX
from callhook.models.event import SpooledRequest


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Any S3 failure here means "the spool cannot take it now": the caller answers 503 or tries again later."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
        raise DependencyUnavailableError(f"{what}: S3 {code}") from exc


class SpoolStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @staticmethod
    def key_for(record: SpooledRequest) -> str:
        return f"{SPOOL_PREFIX}{record.received_at}-{record.event_id}.json"

    def put(self, record: SpooledRequest) -> str:
        key = self.key_for(record)
        with _translated("spool the request"):
            client("s3").put_object(Bucket=self.bucket, Key=key, Body=record.model_dump_json().encode(),
                                    ContentType="application/json", ServerSideEncryption="AES256")
        return key

    def keys(self, *, limit: int = 100) -> list[str]:
        """The oldest spooled requests first (keys start with the arrival time)."""
        with _translated("list the spool"):
            resp = client("s3").list_objects_v2(Bucket=self.bucket, Prefix=SPOOL_PREFIX, MaxKeys=limit)
        return [str(o["Key"]) for o in resp.get("Contents", [])]

    def get(self, key: str) -> SpooledRequest | None:
        """The spooled request, or None when another reconciler run took it first.

        Raises:
            DependencyUnavailableError: S3 failed, or refused a key that is still there.
        """
        try:
            with _translated("read the spool"):
                body = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except DependencyUnavailableError as exc:
            cause = exc.__cause__
            code = cause.response["Error"]["Code"] if isinstance(cause, ClientError) else ""
            if code in ("NoSuchKey", "404"):
                return None
            # S3 answers 404 only to a caller with an unconditional s3:ListBucket; ours may list the spool prefix
            # only, so a key already taken reads as 403. Listing the key itself tells taken from forbidden.
            if code in ("AccessDenied", "403") and not self._listed(key):
                return None
            raise
        return SpooledRequest.model_validate_json(body)

    def _listed(self, key: str) -> bool:
        with _translated("list the spool"):
            resp = client("s3").list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(o["Key"] == key for o in resp.get("Contents", []))

    def delete(self, key: str) -> None:
        with _translated("remove a spooled request"):
            client("s3").delete_object(Bucket=self.bucket, Key=key)

    def set_aside(self, key: str, reason: str) -> str:
        aside = SET_ASIDE_PREFIX + key.removeprefix(SPOOL_PREFIX)
        # S3 metadata travels as an HTTP header: one line of printable ASCII.
        note = " ".join(reason.split()).encode("ascii", "replace").decode()[:1024]
        with _translated("set a spooled request aside"):
            body = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
            client("s3").put_object(Bucket=self.bucket, Key=aside, Body=body, ContentType="application/json",
                                    ServerSideEncryption="AES256", Metadata={"reason": note})
            client("s3").delete_object(Bucket=self.bucket, Key=key)
        return aside

    def set_aside_keys(self, *, limit: int = 1000) -> list[str]:
        """What was moved aside, oldest first (admin time: `callhook events list --set-aside`)."""
        with _translated("list the set-aside requests"):
            resp = client("s3").list_objects_v2(Bucket=self.bucket, Prefix=SET_ASIDE_PREFIX, MaxKeys=limit)
        return [str(o["Key"]) for o in resp.get("Contents", [])]
