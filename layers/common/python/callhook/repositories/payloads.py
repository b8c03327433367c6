"""The `callhook.ports.Payloads` adapter: objects of the recordings bucket under `payloads/` (services/payloads.py)."""

from __future__ import annotations

from dataclasses import dataclass

from callhook.aws import client
from callhook.aws_errors import translated, unavailable


@dataclass(frozen=True)
class BucketPayloads:
    bucket: str

    def put(self, key: str, data: bytes) -> None:
        # Any failure: the caller (ingest) keeps the request in the next store, whatever the code.
        with unavailable("store a large payload", "S3"):
            client("s3").put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json",
                                    ServerSideEncryption="AES256")

    def read(self, key: str) -> bytes:
        with translated("read a large payload", "S3"):
            return bytes(client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def delete(self, key: str) -> None:
        with unavailable("delete a large payload", "S3"):
            client("s3").delete_object(Bucket=self.bucket, Key=key)
