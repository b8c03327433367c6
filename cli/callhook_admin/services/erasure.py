"""Erasure on request: one dialog, or every dialog of a channel whose caller or callee is a given number.

Everything of a dialog goes: the item (telephony, enrichment result, transcript text, feed), its raw events, its
recording and transcript objects, and its Transcribe job. What cannot be erased here is said in RELIABILITY.md
(Step Functions execution histories, point-in-time-recovery backups).

The plan is found first and deleted second, dialog items last: a run that fails half-way leaves each unfinished
dialog in place, so running the same erasure again finds what is left. The erasure record keeps ids and counts, when
and who, and never the number asked for, a name or an email.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import phonenumbers

from callhook.clock import utc_now
from callhook.errors import DialogNotFoundError, InvalidPhoneNumberError
from callhook.models.erasure import DialogErasure, ErasurePlan, ErasureRecord
from callhook.models.event import RawEvent
from callhook.models.transcription import JOB_ATTRIBUTE
from callhook.services.payloads import dialog_prefix
from callhook_admin.errors import LeftoverNotDeletedError
from callhook_admin.ports import ErasableDialogs, ErasableEvents, ErasureObjects, ErasureRecords

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class ErasurePorts:
    """Where a stack keeps what an erasure removes, and where it records the erasure (callhook_cli/wiring.py)."""

    dialogs: ErasableDialogs
    events: ErasableEvents
    objects: ErasureObjects  # the recordings bucket's objects, Transcribe's jobs
    records: ErasureRecords


# ------------------------------------------------------------------------------------------------ matching numbers
def number_digits(number: str) -> str:
    """The digits of a phone number as E.164 has them: `+1 202-555-0143`, `0012025550143`, `sip:+12025550143@pbx`
    -> `12025550143` (a SIP URI's host is not part of the number)."""
    user = number.strip().removeprefix("sip:").removeprefix("tel:").split("@", 1)[0].split(";", 1)[0]
    digits = re.sub(r"\D", "", user)
    return digits[2:] if user.lstrip().startswith("00") else digits


def parse_phone(phone: str) -> str:
    """The wanted number's digits.

    Raises:
        InvalidPhoneNumberError: not E.164 (`+` then 7 to 15 digits): a national number could match other people.
    """
    compact = re.sub(r"[\s().-]", "", phone)
    if not E164.match(compact) or not _possible(compact):
        raise InvalidPhoneNumberError(f"--phone {phone!r} is not an E.164 number (+ then the country code and "
                                      "number, e.g. +12025550143)")
    return compact[1:]


def _possible(e164: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return False


def same_number(stored: Any, wanted: str) -> bool:
    return isinstance(stored, str) and bool(stored.strip()) and number_digits(stored) == wanted


def mentions_number(event: RawEvent, wanted: str) -> bool:
    """The stored request carries the number (body or query, URL-decoded) as a whole run of digits."""
    text = unquote_plus(event.request.body.decode("utf-8", errors="replace") + "&" + event.request.raw_query)
    return re.search(rf"(?<!\d){wanted}(?!\d)", text) is not None


# ---------------------------------------------------------------------------------------------------- planning
def plan_dialog_erasure(dialog_id: str, io: ErasurePorts) -> ErasurePlan:
    """Raises:
        DialogNotFoundError: no such dialog (nothing to erase, or erased already).
    """
    item = io.dialogs.get_raw(dialog_id)
    if item is None:
        raise DialogNotFoundError(f"no dialog {dialog_id!r} (erased already, or never stored)")
    return ErasurePlan(scope="dialog", channel_id=item["channel_id"], dialogs=[_dialog_erasure(item, io)])


def plan_phone_erasure(channel_id: str, phone: str, io: ErasurePorts) -> ErasurePlan:
    """Every dialog of the channel whose caller or callee is the number, with the channel's raw events that
    carry it (rejected webhooks, which belong to no dialog).

    Raises:
        InvalidPhoneNumberError: `phone` is not E.164.
    """
    wanted = parse_phone(phone)
    found = [dialog_id for dialog_id, caller, callee in io.dialogs.numbers_of_channel(channel_id)
             if same_number(caller, wanted) or same_number(callee, wanted)]
    items = [item for dialog_id in found if (item := io.dialogs.get_raw(dialog_id)) is not None]
    erasures = [_dialog_erasure(item, io) for item in items]
    linked = {e for d in erasures for e in d.raw_event_ids}
    ids = {d.dialog_id for d in erasures}
    loose = [event.event_id for event in io.events.of_channel(channel_id)
             if event.event_id not in linked and (event.dialog_id in ids or mentions_number(event, wanted))]
    return ErasurePlan(scope="phone", channel_id=channel_id, dialogs=erasures, raw_event_ids=sorted(loose))


def _dialog_erasure(item: dict[str, Any], io: ErasurePorts) -> DialogErasure:
    dialog_id, channel_id = str(item["dialog_id"]), str(item["channel_id"])
    recording = item.get("recording") or {}
    transcription = item.get("transcription") or {}
    raw_ref = item.get("raw_ref") or {}
    keys = {k for k in (recording.get("s3_key"), transcription.get("transcript_s3_key"), raw_ref.get("s3_key")) if k}
    for folder in ("recordings", "transcripts"):  # whatever format it was kept in
        keys |= set(io.objects.keys_under(f"{folder}/{channel_id}/{dialog_id}."))
    keys |= set(io.objects.keys_under(dialog_prefix(channel_id, dialog_id)))  # bodies too large for the item
    return DialogErasure(dialog_id=dialog_id, channel_id=channel_id,
                         raw_event_ids=sorted(io.events.linked_to(dialog_id)), object_keys=sorted(keys),
                         transcription_job=item.get(JOB_ATTRIBUTE) or transcription.get("job_name"))


# ---------------------------------------------------------------------------------------------------- erasing
def erase(plan: ErasurePlan, io: ErasurePorts) -> ErasureRecord:
    """Delete what the plan found and leave the record. Who asks is read first: no identity, no erasure."""
    erased_by = io.records.caller()
    not_deleted: list[str] = []
    objects = jobs = 0
    erased: list[str] = []
    for dialog in plan.dialogs:
        failures: list[str] = []
        if dialog.transcription_job:
            try:
                jobs += io.objects.delete_transcription_job(dialog.transcription_job)
            except LeftoverNotDeletedError as exc:
                failures.append(f"transcription job of {dialog.dialog_id}: {exc.code}")
        failed_keys = io.objects.delete_objects(dialog.object_keys)
        objects += len(dialog.object_keys) - len(failed_keys)
        failures += failed_keys
        for event_id in dialog.raw_event_ids:
            io.events.delete(event_id)
        if failures:  # keep the item: erasing again finds what is left
            not_deleted += failures
            continue
        io.dialogs.delete(dialog.dialog_id)
        erased.append(dialog.dialog_id)
    for event_id in plan.raw_event_ids:
        io.events.delete(event_id)
    record = ErasureRecord(
        erasure_id=f"er-{uuid.uuid4().hex}", erased_at=utc_now(), erased_by=erased_by, scope=plan.scope,
        channel_id=plan.channel_id, dialog_ids=erased, raw_event_ids=plan.all_raw_event_ids,
        objects_deleted=objects, transcription_jobs_deleted=jobs, not_deleted=not_deleted)
    io.records.put(record)
    return record
