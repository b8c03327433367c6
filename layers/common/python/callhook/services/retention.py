"""Retention: a channel's `retention_days` (else the stack's DefaultRetentionDays; 0 keeps forever) makes each
dialog and raw event expire that many days after the call, through DynamoDB TTL (`expires_at`, epoch seconds).

When DynamoDB removes an expired dialog, the dialogs table's stream hands its old image to the Expire function,
which deletes what lives outside the table: the recording and transcript objects, the provider's body when it
was too large for the item (services/payloads.py), and the Transcribe job. Raw
events carry their own `expires_at` and go by themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from callhook.models.erasure import DialogErasure
from callhook.models.transcription import JOB_ATTRIBUTE
from callhook.ports import Leftovers

TTL_ATTRIBUTE = "expires_at"


def retention_days(channel_days: int | None, default_days: int) -> int:
    """The channel's own setting wins, 0 included (keep this channel's calls forever)."""
    return default_days if channel_days is None else channel_days


def expires_at(start: str, days: int) -> int | None:
    """Epoch seconds `days` after `start` (ISO-8601, as created_at/received_at are written); None keeps forever."""
    if days <= 0:
        return None
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int((moment + timedelta(days=days)).timestamp())


def outside_the_table(old_image: dict[str, Any]) -> DialogErasure:
    """What of a removed dialog lives outside its item: the objects it names (recording, transcript, large body)
    and its Transcribe job."""
    recording = old_image.get("recording") or {}
    transcription = old_image.get("transcription") or {}
    raw_ref = old_image.get("raw_ref") or {}
    keys = sorted({k for k in (recording.get("s3_key"), transcription.get("transcript_s3_key"), raw_ref.get("s3_key"))
                   if k})
    return DialogErasure(dialog_id=str(old_image["dialog_id"]), channel_id=str(old_image.get("channel_id", "")),
                         object_keys=keys, transcription_job=old_image.get(JOB_ATTRIBUTE) or transcription.get(
                             "job_name"))


def forget_removed_dialog(old_image: dict[str, Any], leftovers: Leftovers) -> DialogErasure:
    """Delete the removed dialog's objects and Transcribe job (both idempotent: a retried batch is harmless).

    Raises:
        ClientError: S3 or Transcribe refused; the stream retries the batch.
    """
    target = outside_the_table(old_image)
    failed = leftovers.delete_objects(target.object_keys)
    if failed:
        raise RuntimeError(f"objects of {target.dialog_id} not deleted: {failed}")
    if target.transcription_job:
        leftovers.delete_transcription_job(target.transcription_job)
    return target
