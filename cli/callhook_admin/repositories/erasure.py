"""The adapters of an erasure's `callhook_admin.ports` outside the tables: the recordings bucket's objects and
Transcribe's jobs, the caller's IAM identity and the erasure records (the AWS calls are callhook.repositories.erasure's,
shared with Expire)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from callhook.models.erasure import ErasureRecord
from callhook.repositories.erasure import (
    ErasureRepository,
    caller_identity,
    delete_objects,
    delete_transcription_job,
    object_keys,
    read_object,
)
from callhook_admin.errors import LeftoverNotDeletedError


@dataclass(frozen=True)
class AwsErasureObjects:
    bucket: str

    def keys_under(self, prefix: str) -> list[str]:
        return object_keys(self.bucket, prefix)

    def read(self, key: str) -> bytes | None:
        return read_object(self.bucket, key)

    def delete_objects(self, keys: list[str]) -> list[str]:
        return delete_objects(self.bucket, keys)

    def delete_transcription_job(self, name: str) -> bool:
        try:
            return delete_transcription_job(name)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            raise LeftoverNotDeletedError(f"DeleteTranscriptionJob {name} refused: {code}", code=code) from exc


@dataclass(frozen=True)
class DynamoErasureRecords:
    table: str

    def caller(self) -> str:
        return caller_identity()

    def put(self, record: ErasureRecord) -> None:
        ErasureRepository(self.table).put(record)
