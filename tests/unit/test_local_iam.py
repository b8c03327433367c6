"""The local stack's IAM (callhook_local/iam.py): which action and resource each operation is authorized on (from
the Service Authorization Reference cfn-lint bundles), how policies are evaluated, and the check over the template
as the SAM transform deploys it."""

from __future__ import annotations

from typing import Any

import pytest

from callhook_local import iam
from callhook_local.template import load_template

A = "arn:aws"
R = f"{iam.REGION}:{iam.ACCOUNT}"


def reqs(prefix: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in iam.requirements(prefix, operation, params)]


def test_operations_map_to_the_action_and_resource_arn_the_reference_names() -> None:
    assert reqs("dynamodb", "PutItem", {"TableName": "T"}) == [("dynamodb:PutItem", f"{A}:dynamodb:{R}:table/T")]
    assert reqs("s3", "GetObject", {"Bucket": "b", "Key": "transcripts/x.json"}) == [
        ("s3:GetObject", "arn:aws:s3:::b/transcripts/x.json")]
    assert reqs("states", "DescribeExecution", {"executionArn": f"{A}:states:{R}:execution:M:e1"}) == [
        ("states:DescribeExecution", f"{A}:states:{R}:execution:M:e1")]
    assert reqs("ssm", "GetParameter", {"Name": "/callhook/x"}) == [
        ("ssm:GetParameter", f"{A}:ssm:{R}:parameter/callhook/x")]
    assert reqs("transcribe", "GetTranscriptionJob", {"TranscriptionJobName": "s-1"}) == [
        ("transcribe:GetTranscriptionJob", f"{A}:transcribe:{R}:transcription-job/s-1")]


def test_the_documented_special_cases() -> None:
    # Invoke is authorized as lambda:InvokeFunction on the function
    assert reqs("lambda", "Invoke", {"FunctionName": "f"}) == [("lambda:InvokeFunction", f"{A}:lambda:{R}:function:f")]
    # a Query of an index is authorized on the index, a Query of the table on the table
    assert reqs("dynamodb", "Query", {"TableName": "T", "IndexName": "by_x"}) == [
        ("dynamodb:Query", f"{A}:dynamodb:{R}:table/T/index/by_x")]
    assert reqs("dynamodb", "Query", {"TableName": "T"}) == [("dynamodb:Query", f"{A}:dynamodb:{R}:table/T")]
    # ListObjectsV2 is s3:ListBucket on the bucket, with s3:prefix for conditions; multipart is s3:PutObject
    listing = iam.requirements("s3", "ListObjectsV2", {"Bucket": "b", "prefix": "spool/"})
    assert [(r.action, r.resource, dict(r.context)) for r in listing] == [
        ("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "spool/"})]
    assert reqs("s3", "UploadPart", {"Bucket": "b", "Key": "k"}) == [("s3:PutObject", "arn:aws:s3:::b/k")]
    # a transaction is each of its items' actions
    assert reqs("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "A"}}, {"ConditionCheck": {"TableName": "B"}}]}) == [
        ("dynamodb:PutItem", f"{A}:dynamodb:{R}:table/A"), ("dynamodb:ConditionCheckItem", f"{A}:dynamodb:{R}:table/B")]


def test_delete_objects_is_s3_delete_object_on_each_key_of_its_body() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"<Object><Key>recordings/a.wav</Key></Object><Object><Key>transcripts/a.json</Key></Object></Delete>")
    keys = iam._delete_keys(body)
    assert keys == ["recordings/a.wav", "transcripts/a.json"]
    assert reqs("s3", "DeleteObjects", {"Bucket": "b", "Keys": keys}) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/recordings/a.wav"),
        ("s3:DeleteObject", "arn:aws:s3:::b/transcripts/a.json")]


def test_actions_without_resource_level_support_are_checked_on_star() -> None:
    assert reqs("states", "SendTaskSuccess", {"taskToken": "t"}) == [("states:SendTaskSuccess", "*")]
    assert reqs("transcribe", "StartTranscriptionJob", {"TranscriptionJobName": "s-1"}) == [
        ("transcribe:StartTranscriptionJob", "*")]


def test_an_operation_the_reference_cannot_map_fails_loudly() -> None:
    with pytest.raises(iam.UnmappedOperation, match="dynamodb:ExecuteStatement"):
        iam.requirements("dynamodb", "ExecuteStatement", {"Statement": "SELECT * FROM T"})
    with pytest.raises(iam.UnmappedOperation, match="no ARN"):  # authorized on a table, but none is named
        iam.requirements("dynamodb", "PutItem", {})


def test_policies_are_evaluated_as_iam_does() -> None:
    allow_table = {"Statement": [{"Effect": "Allow", "Action": ["dynamodb:PutItem"],
                                  "Resource": f"{A}:dynamodb:{R}:table/T"}]}
    put_t = iam.Requirement("dynamodb:PutItem", f"{A}:dynamodb:{R}:table/T")
    put_u = iam.Requirement("dynamodb:PutItem", f"{A}:dynamodb:{R}:table/U")
    assert iam.evaluate([allow_table], put_t) == "allowed"
    assert iam.evaluate([allow_table], put_u) == "implicit"
    assert iam.evaluate([allow_table], iam.Requirement("DynamoDB:putitem", put_t.resource)) == "allowed"  # case
    deny = {"Statement": [{"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]}
    assert iam.evaluate([allow_table, deny], put_t) == "explicit"
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
    assert iam.evaluate([not_action], put_u) == "allowed"
    assert iam.evaluate([not_action], iam.Requirement("s3:GetObject", "arn:aws:s3:::b/k")) == "implicit"
    spool_only = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
                                 "Condition": {"StringLike": {"s3:prefix": "spool/*"}}}]}
    listing = iam.Requirement("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "spool/"),))
    assert iam.evaluate([spool_only], listing) == "allowed"
    assert iam.evaluate([spool_only], iam.Requirement("s3:ListBucket", "arn:aws:s3:::b",
                                                      (("s3:prefix", "recordings/"),))) == "implicit"


def test_the_denial_message_has_aws_shape() -> None:
    who = iam.Identity("r", f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/r/s", "AK", "SK", "T")
    req = iam.Requirement("s3:GetObject", "arn:aws:s3:::b/k")
    assert iam.denial_message(who, req, "implicit") == (
        f"User: arn:aws:sts::{iam.ACCOUNT}:assumed-role/r/s is not authorized to perform: s3:GetObject on resource: "
        "arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action")
    assert iam.denial_message(who, req, "explicit").endswith("with an explicit deny in an identity-based policy")


def test_a_grant_scoped_to_an_arn_on_an_action_without_resource_level_support_is_flagged() -> None:
    template = load_template()
    template["Resources"]["AssignFunction"]["Properties"]["Policies"].append({"Statement": [
        {"Sid": "Scoped", "Effect": "Allow", "Action": ["states:SendTaskFailure", "dynamodb:GetItem"],
         "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:M"}]})
    findings = iam.scoped_without_resource_support(iam.sam_transform(template))
    assert any("AssignFunctionRole" in f and "states:SendTaskFailure" in f for f in findings), findings
    assert not any("dynamodb:GetItem" in f for f in findings)  # GetItem has resource-level support


def test_no_grant_in_template_yaml_is_scoped_on_an_action_without_resource_level_support() -> None:
    # Issue 13, finding 4: SendTask* and StartTranscriptionJob were scoped to ARNs, so AWS never allowed them
    assert iam.scoped_without_resource_support(iam.sam_transform(load_template())) == []
