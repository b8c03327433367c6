"""The AWS calls of an erasure besides the tables' own: the bucket's objects, Transcribe jobs, the caller's IAM
identity, and the erasure records."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from callhook.aws import client, to_item
from callhook.models.erasure import ErasureRecord
from callhook.repositories._dynamo import translated_errors


class ErasureRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def put(self, record: ErasureRecord) -> None:
        with translated_errors("store erasure record"):
            client("dynamodb").put_item(TableName=self.table, Item=to_item(record.model_dump(mode="json")),
                                        ConditionExpression="attribute_not_exists(erasure_id)")


def object_keys(bucket: str, prefix: str) -> list[str]:
    """Every key under `prefix` (a dialog's recording in whatever format it was kept, its transcript)."""
    keys: list[str] = []
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def read_object(bucket: str, key: str) -> bytes | None:
    """An object's bytes; None when it is gone (a drain took it meanwhile)."""
    try:
        return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def delete_objects(bucket: str, keys: list[str]) -> list[str]:
    """Delete keys (1000 a request); returns the keys S3 could not delete, with the error code."""
    failed: list[str] = []
    for start in range(0, len(keys), 1000):
        batch = keys[start:start + 1000]
        resp = client("s3").delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch],
                                                                   "Quiet": True})
        failed += [f"{e['Key']}: {e.get('Code')}" for e in resp.get("Errors", [])]
    return failed


def transcription_job_exists(name: str) -> bool:
    try:
        client("transcribe").get_transcription_job(TranscriptionJobName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BadRequestException", "NotFoundException"):
            return False
        raise
    return True


def delete_transcription_job(name: str) -> bool:
    """DeleteTranscriptionJob; False when the job is gone already (Transcribe answers BadRequest: not found)."""
    try:
        client("transcribe").delete_transcription_job(TranscriptionJobName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BadRequestException", "NotFoundException"):
            return False
        raise
    return True


def caller_identity() -> str:
    """The ARN of whoever runs the erasure (an IAM user or an assumed role's session)."""
    return str(client("sts").get_caller_identity()["Arn"])


@dataclass(frozen=True)
class AwsLeftovers:
    """The `callhook.ports.Leftovers` adapter: a removed dialog's objects in the recordings bucket, its Transcribe
    job."""

    bucket: str

    def delete_objects(self, keys: list[str]) -> list[str]:
        return delete_objects(self.bucket, keys)

    def delete_transcription_job(self, name: str) -> bool:
        return delete_transcription_job(name)
