"""Erasure on request: one dialog, or every dialog of a channel whose caller or callee is a given number.

Everything of a dialog goes: the item (telephony, enrichment result, transcript text, feed), its raw events, its
recording and transcript objects, its body when it was too large for the item, and its Transcribe job. By number,
so do the channel's raw events and the spooled requests that carry the number, however it was written. What
cannot be erased here is said in RELIABILITY.md (Step Functions execution histories, point-in-time-recovery
backups).

The plan is found first and deleted second, dialog items last: a run that fails half-way leaves each unfinished
dialog in place, so running the same erasure again finds what is left. The erasure record keeps ids and counts, when
and who, what was searched (the rule, the number's country code and region, how many items), and never the number
asked for, a name or an email.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import phonenumbers
from pydantic import ValidationError

from callhook.clock import utc_now
from callhook.errors import DialogNotFoundError, InvalidPhoneNumberError, WebhookRejectedError
from callhook.mapping import normalize_phone, parse_body
from callhook.models.erasure import DialogErasure, ErasurePlan, ErasureRecord, ErasureSearch
from callhook.models.event import SET_ASIDE_PREFIX, SPOOL_PREFIX, RawEvent, SpooledRequest, StoredRequest
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
@dataclass(frozen=True)
class WantedNumber:
    """The number an erasure looks for, in the forms it may have been stored in: its E.164 digits, and the region
    whose national format the mapping reads numbers in when a channel names no `default_region`."""

    e164: str  # "+12025550143"
    country_code: int  # 1
    region: str | None  # "US"; None for a number of no single region (+800 ...)

    @property
    def digits(self) -> str:
        return self.e164[1:]


def number_digits(number: str) -> str:
    """The digits of a phone number as E.164 has them: `+1 202-555-0143`, `0012025550143`, `sip:+12025550143@pbx`
    -> `12025550143` (a SIP URI's host is not part of the number)."""
    user = _user_part(number)
    digits = re.sub(r"\D", "", user)
    return digits[2:] if user.lstrip().startswith("00") else digits


def _user_part(number: str) -> str:
    return number.strip().removeprefix("sip:").removeprefix("tel:").split("@", 1)[0].split(";", 1)[0]


def parse_phone(phone: str) -> WantedNumber:
    """The wanted number.

    Raises:
        InvalidPhoneNumberError: not E.164 (`+` then 7 to 15 digits): a national number could match other people.
    """
    compact = re.sub(r"[\s().-]", "", phone)
    parsed = _parsed(compact) if E164.match(compact) else None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumberError(f"--phone {phone!r} is not an E.164 number (+ then the country code and "
                                      "number, e.g. +12025550143)")
    region = phonenumbers.region_code_for_number(parsed)
    return WantedNumber(e164=compact, country_code=int(parsed.country_code or 0),
                        region=region if region and region.isalpha() and len(region) == 2 else None)


def _parsed(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def same_number(stored: Any, wanted: WantedNumber) -> bool:
    """The stored value is the wanted number: the same digits in international form however spaced (`+`, `00` or
    none), or a national form that the mapping's own normalisation (phonenumbers, in the number's region) makes
    the same E.164 number, as when the channel had no `default_region` and kept `(202) 555-0143` as sent."""
    if not isinstance(stored, str) or not stored.strip():
        return False
    if number_digits(stored) == wanted.digits:
        return True
    return wanted.region is not None and normalize_phone(_user_part(stored), wanted.region) == wanted.e164


def text_mentions(text: str, wanted: WantedNumber) -> bool:
    """The text carries the number anywhere, however written: as its E.164 digits (`+`, `00` or none before
    them), or as any phone number phonenumbers finds in it, read in the number's region (`(202) 555-0143`,
    `202.555.0143`, `+1 202-555-0143`), spacing and punctuation ignored."""
    if re.search(rf"(?<!\d){wanted.digits}(?!\d)", text):
        return True
    if wanted.region is None:
        return False
    matches = phonenumbers.PhoneNumberMatcher(text, wanted.region, leniency=phonenumbers.Leniency.POSSIBLE,
                                              max_tries=len(text) + 1)
    return any(phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164) == wanted.e164
               for m in matches)


def request_text(request: StoredRequest) -> str:
    """What a kept request carries, as text: its body parsed as ingest parses it (any charset, form fields with
    their names), else decoded as it is; and its query, URL-decoded."""
    try:
        body = json.dumps(parse_body(request.body, request.headers.get("content-type")), ensure_ascii=False)
    except WebhookRejectedError:  # unreadable as ingest reads bodies: search the bytes as they are
        body = unquote_plus(request.body.decode("utf-8", errors="replace"))
    return body + "&" + unquote_plus(request.raw_query)


def mentions_number(event: RawEvent, wanted: WantedNumber) -> bool:
    """The stored request (body or query), or an update's fields, carry the number."""
    fields = json.dumps(event.update_fields, ensure_ascii=False) if event.update_fields else ""
    return text_mentions(request_text(event.request) + fields, wanted)


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
    """Every dialog of the channel whose caller or callee is the number, the channel's raw events that carry it
    (rejected, held, set aside, early updates: which belong to no dialog yet), and the requests still waiting in
    the spool (or set aside there) that carry it.

    Raises:
        InvalidPhoneNumberError: `phone` is not E.164.
    """
    wanted = parse_phone(phone)
    numbers = list(io.dialogs.numbers_of_channel(channel_id))
    found = [dialog_id for dialog_id, caller, callee in numbers
             if same_number(caller, wanted) or same_number(callee, wanted)]
    items = [item for dialog_id in found if (item := io.dialogs.get_raw(dialog_id)) is not None]
    erasures = [_dialog_erasure(item, io) for item in items]
    linked = {e for d in erasures for e in d.raw_event_ids}
    ids = {d.dialog_id for d in erasures}
    events = list(io.events.of_channel(channel_id))
    loose = [event.event_id for event in events
             if event.event_id not in linked and (event.dialog_id in ids or mentions_number(event, wanted))]
    spool_keys = io.objects.keys_under(SPOOL_PREFIX) + io.objects.keys_under(SET_ASIDE_PREFIX)
    spooled = [key for key in spool_keys if _spooled_mentions(key, channel_id, wanted, io)]
    searched = ErasureSearch(
        rule=("caller/callee: the same E.164 number, or a national form read in its region; stored requests: the "
              "number anywhere in body, query or fields; spacing and punctuation ignored"),
        country_code=wanted.country_code, region=wanted.region,
        dialogs=len(numbers), raw_events=len(events), spool_objects=len(spool_keys))
    return ErasurePlan(scope="phone", channel_id=channel_id, dialogs=erasures, raw_event_ids=sorted(loose),
                       spool_keys=spooled, searched=searched)


def _spooled_mentions(key: str, channel_id: str, wanted: WantedNumber, io: ErasurePorts) -> bool:
    """A spooled (or set-aside) request of the channel that carries the number. An object that is no spooled
    request names no channel: it is erased when its bytes carry the number at all."""
    data = io.objects.read(key)
    if data is None:
        return False
    try:
        record = SpooledRequest.model_validate_json(data)
    except ValidationError:
        return text_mentions(data.decode("utf-8", errors="replace"), wanted)
    return record.channel_id == channel_id and text_mentions(request_text(record.request), wanted)


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
    failed_spool = io.objects.delete_objects(plan.spool_keys)
    not_deleted += failed_spool
    record = ErasureRecord(
        erasure_id=f"er-{uuid.uuid4().hex}", erased_at=utc_now(), erased_by=erased_by, scope=plan.scope,
        channel_id=plan.channel_id, dialog_ids=erased, raw_event_ids=plan.all_raw_event_ids,
        objects_deleted=objects, transcription_jobs_deleted=jobs,
        spooled_requests_deleted=len(plan.spool_keys) - len(failed_spool), searched=plan.searched,
        not_deleted=not_deleted)
    io.records.put(record)
    return record
