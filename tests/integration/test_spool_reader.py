"""The reconciler reading the spool under its own role, as S3 answers it on AWS: a key another run already took is
answered 403 (the role may list only the spool's prefix, and S3 answers 404 only to an unconditional s3:ListBucket),
which is "taken", not "S3 is down"."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from callhook.errors import DependencyUnavailableError
from callhook.repositories.spool import SPOOL_PREFIX, SpoolStore
from callhook_local import iam
from tests.support.stack import StackClient


def _spooled(stack: StackClient) -> str:
    key = f"{SPOOL_PREFIX}2026-01-01T00:00:00.000000Z-{uuid.uuid4().hex}.json"
    record = {"event_id": uuid.uuid4().hex, "channel_id": "c", "received_at": "2026-01-01T00:00:00.000000Z",
              "reason": "dialog_store_unavailable",
              "request": {"method": "POST", "url": "https://example.com/webhooks/c", "headers": {}}}
    stack.stack.client("s3").put_object(Bucket=stack.env["RECORDINGS_BUCKET"], Key=key, Body=json.dumps(record))
    return key


def test_s3_answers_403_to_the_reconciler_for_a_spool_key_that_is_gone(stack: StackClient) -> None:
    # The local IAM answers as S3 does: GetObject of a missing key without an unconditional ListBucket is 403
    missing = f"{SPOOL_PREFIX}gone-{uuid.uuid4().hex}.json"
    with iam.acting_as(stack.stack.roles["ReconcileFunctionRole"]), pytest.raises(ClientError) as denied:
        stack.stack.client("s3").get_object(Bucket=stack.env["RECORDINGS_BUCKET"], Key=missing)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # while an unchecked caller (who may list the bucket) is told the key does not exist
    with pytest.raises(ClientError) as absent:
        stack.stack.client("s3").get_object(Bucket=stack.env["RECORDINGS_BUCKET"], Key=missing)
    assert absent.value.response["Error"]["Code"] == "NoSuchKey"


def test_a_spool_key_already_taken_reads_as_taken(stack: StackClient) -> None:
    # Given a key listed by one reconciler run and taken (deleted) by another before this one reads it
    spool = SpoolStore(stack.env["RECORDINGS_BUCKET"])
    key = _spooled(stack)
    with iam.acting_as(stack.stack.roles["ReconcileFunctionRole"]):
        assert key in spool.keys(limit=1000)
        assert spool.get(key) is not None
        spool.delete(key)
        # When it reads it, Then the answer is "taken" (None), not DependencyUnavailableError
        assert spool.get(key) is None


def test_a_spool_key_still_there_but_refused_is_still_a_failure(stack: StackClient) -> None:
    # A role that may not read the spool at all (ingest only writes it): a real denial is not mistaken for "taken"
    spool = SpoolStore(stack.env["RECORDINGS_BUCKET"])
    key = _spooled(stack)
    with iam.acting_as(stack.stack.roles["IngestFunctionRole"]), pytest.raises(DependencyUnavailableError):
        spool.get(key)
