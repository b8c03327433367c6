"""What survives the stack: every guarantee read from the template as CloudFormation deploys it (samtranslator's
output), for every table and every bucket, so that a new table or bucket without them fails here.

cfn-lint's I3011 names the first two; the rest are what a recording bucket of personal data needs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.transformed import of_type, transformed_template

TEMPLATE = transformed_template()
TABLES = of_type(TEMPLATE, "AWS::DynamoDB::Table")
BUCKETS = of_type(TEMPLATE, "AWS::S3::Bucket")
STATEFUL = {**TABLES, **BUCKETS}


def test_the_template_has_the_stateful_resources_this_test_guards() -> None:
    assert len(TABLES) >= 7
    assert "RecordingsBucket" in BUCKETS


@pytest.mark.parametrize("logical", sorted(STATEFUL))
def test_stateful_resource_is_kept_on_stack_delete_and_on_replacement(logical: str) -> None:
    resource = STATEFUL[logical]
    assert resource.get("DeletionPolicy") == "Retain", f"{logical}: a `sam delete` would drop it"
    assert resource.get("UpdateReplacePolicy") == "Retain", f"{logical}: a replacing update would drop it"


@pytest.mark.parametrize("logical", sorted(TABLES))
def test_table_has_point_in_time_recovery(logical: str) -> None:
    spec = TABLES[logical]["Properties"].get("PointInTimeRecoverySpecification", {})
    assert spec.get("PointInTimeRecoveryEnabled") is True, logical


@pytest.mark.parametrize("logical", sorted(BUCKETS))
def test_bucket_is_encrypted_and_never_public(logical: str) -> None:
    props = BUCKETS[logical]["Properties"]
    rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] in (
        ["AES256"], ["aws:kms"], ["aws:kms:dsse"]), logical
    assert props.get("PublicAccessBlockConfiguration") == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


@pytest.mark.parametrize("logical", sorted(BUCKETS))
def test_bucket_cleans_up_incomplete_multipart_uploads(logical: str) -> None:
    rules = BUCKETS[logical]["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    aborting = [r for r in rules if r.get("Status") == "Enabled" and "AbortIncompleteMultipartUpload" in r
                and not r.get("Prefix") and not r.get("Filter")]  # the whole bucket
    assert aborting, f"{logical}: parts of an interrupted upload would be stored (and billed) forever"
    assert aborting[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 7


def _bucket_arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


@pytest.mark.parametrize("logical", sorted(BUCKETS))
def test_bucket_refuses_requests_without_tls(logical: str) -> None:
    policies = [p["Properties"]["PolicyDocument"] for p in of_type(TEMPLATE, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": logical}]
    assert len(policies) == 1, f"{logical}: no bucket policy"
    denies = [s for s in policies[0]["Statement"] if s["Effect"] == "Deny"
              and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert denies, f"{logical}: plain-HTTP requests are not denied"
    statement = denies[0]
    assert statement["Principal"] in ("*", {"AWS": "*"})
    assert statement["Action"] in ("s3:*", ["s3:*"])
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert _bucket_arn(logical) in resources  # the bucket (ListBucket, ...)
    assert {"Fn::Sub": f"${{{logical}.Arn}}/*"} in resources  # and every object


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in role["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_recording_copy_may_abort_its_own_multipart_uploads() -> None:
    # KeepRecording streams recordings past 8 MiB as multipart uploads (upload_fileobj): a failed one must be able
    # to abort what it started, on every prefix it writes.
    statements = _statements(TEMPLATE["Resources"]["KeepRecordingFunctionRole"])
    written = [r for s in statements if "s3:PutObject" in _as_list(s["Action"]) for r in _as_list(s["Resource"])]
    aborting = [r for s in statements if "s3:AbortMultipartUpload" in _as_list(s["Action"])
                for r in _as_list(s["Resource"])]
    recordings = {"Fn::Sub": "${RecordingsBucket.Arn}/recordings/*"}
    assert recordings in written
    assert recordings in aborting


@pytest.mark.parametrize("logical", ["DialogsTable", "EventsTable"])
def test_dialogs_and_raw_events_expire_by_ttl_on_the_attribute_the_code_writes(logical: str) -> None:
    from callhook.services.retention import TTL_ATTRIBUTE

    assert TABLES[logical]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE,
                                                                        "Enabled": True}


def test_an_expired_dialog_reaches_the_function_that_deletes_its_objects() -> None:
    # The dialogs table's stream (old image: the keys and job to delete) feeds ExpireFunction, filtered on AWS to
    # the removals DynamoDB's TTL makes
    assert TABLES["DialogsTable"]["Properties"]["StreamSpecification"]["StreamViewType"] in ("OLD_IMAGE",
                                                                                            "NEW_AND_OLD_IMAGES")
    (mapping,) = [m["Properties"] for m in of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["DialogsTable", "StreamArn"]}]
    assert mapping["FunctionName"] == {"Ref": "ExpireFunction"}
    (pattern,) = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"],
                                                                 "principalId": ["dynamodb.amazonaws.com"]}}
    statements = _statements(TEMPLATE["Resources"]["ExpireFunctionRole"])
    allowed = {a for s in statements for a in _as_list(s["Action"])}
    assert {"s3:DeleteObject", "transcribe:DeleteTranscriptionJob"} <= allowed


@pytest.mark.parametrize("logical", sorted(BUCKETS))
def test_no_lifecycle_rule_deletes_or_moves_what_retention_keeps(logical: str) -> None:
    # Retention is the channel's retention_days (0: forever) carried out by the Expire function; a bucket rule that
    # expires or transitions objects would delete recordings and transcripts a channel keeps, leaving dialogs whose
    # keys point at nothing. Only the incomplete-upload rule (parts never made into an object) may act on its own.
    rules = BUCKETS[logical]["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    acting = {key for rule in rules if rule.get("Status") == "Enabled" for key in rule
              if key not in ("Id", "Status", "Prefix", "Filter", "AbortIncompleteMultipartUpload")}
    assert acting == set(), f"{logical}: lifecycle rule(s) act on stored objects: {sorted(acting)}"
