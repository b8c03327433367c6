"""Large payloads by reference (a claim check): what does not fit a DynamoDB item (400 KB) is kept as an object in
the recordings bucket beside its dialog, and the dialog points at it (`Dialog.raw_ref`).

A body the API accepts (MAX_BODY_BYTES) may decode to three times its size (each byte of a single-byte charset
such as cp1252 can become three bytes of UTF-8), and the provider's parsed body is kept whole as `telephony.raw`.
Step Functions' 256 KB state never carries it: the workflow's state holds ids only (models/workflow.py), and the
steps that need the body (Enrich's action, `dialog get`, `dialog explain`) read it through the pointer.

Pure, over the `Payloads` port (repositories/payloads.py on S3, a dict in tests).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from callhook.models.dialog import Dialog, PayloadRef

if TYPE_CHECKING:  # annotations only: ingest imports this module on the webhook path's cold start
    from callhook.ports import PayloadReader, Payloads

PAYLOADS_PREFIX = "payloads/"
# Past this the parsed body leaves the item. It leaves room for what the steps add to the dialog later (enrichment
# result, the transcript's text, turns and feed entry, each capped in services/transcript.py) under the 400 KB.
INLINE_RAW_MAX_BYTES = 100_000


def raw_bytes(raw: dict[str, Any]) -> bytes:
    """The parsed body as stored in the bucket: compact JSON in UTF-8 (what DynamoDB would have counted)."""
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()


def dialog_prefix(channel_id: str, dialog_id: str) -> str:
    """Every payload object of a dialog starts with this (erasure lists it; recordings and transcripts alike)."""
    return f"{PAYLOADS_PREFIX}{channel_id}/{dialog_id}."


def raw_key(dialog: Dialog, data: bytes) -> str:
    """Named by its content too: a re-delivery with another body (the dialog exists) never overwrites the object
    the stored dialog points at."""
    return f"{dialog_prefix(dialog.channel_id, dialog.dialog_id)}raw-{hashlib.sha256(data).hexdigest()[:16]}.json"


def offload_raw(dialog: Dialog, payloads: Payloads, *, limit: int = INLINE_RAW_MAX_BYTES) -> Dialog:
    """The dialog to store: as it is when its parsed body fits the item, else with the body in the bucket (written
    first, so that a stored pointer never dangles) and `raw_ref` pointing at it.

    Raises:
        DependencyUnavailableError: the bucket did not take the object (ingest keeps the request in the spool).
    """
    data = raw_bytes(dialog.telephony.raw)
    if len(data) <= limit:
        return dialog
    key = raw_key(dialog, data)
    payloads.put(key, data)
    return dialog.model_copy(update={"telephony": dialog.telephony.model_copy(update={"raw": {}}),
                                     "raw_ref": PayloadRef(s3_key=key, size=len(data))})


def with_raw(dialog: Dialog, payloads: PayloadReader) -> Dialog:
    """The dialog with `telephony.raw` as the provider sent it, read through `raw_ref` when it is in the bucket.

    Raises:
        DependencyUnavailableError: S3 throttled or unreachable.
    """
    if dialog.raw_ref is None:
        return dialog
    raw = json.loads(payloads.read(dialog.raw_ref.s3_key))
    return dialog.model_copy(update={"telephony": dialog.telephony.model_copy(update={"raw": raw})})
