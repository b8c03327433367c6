"""moto_speedups change no result: the engine's JSONPaths evaluate as before, each parsed once."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.utils import json_path

from callhook_local import moto_speedups

DATA: dict[str, Any] = {"dialog_id": "d-1", "enrichment": {"status": "ok", "topic": None},
                        "items": [{"n": 1, "k": "a"}, {"n": 2, "k": "b"}, {"n": 3, "k": "c"}]}
PATHS = ["$", "$.dialog_id", "$.enrichment.status", "$.enrichment.topic", "$.items[1]", "$.items[*].n",
         "$.items[0:2].k", "$.items[?(@.n > 1)].k", "$..k"]


def _evaluate(paths: list[str]) -> list[Any]:
    results: list[Any] = []
    for path in paths:
        try:
            results.append(json_path.extract_json(path, DATA))
        except json_path.NoSuchJsonPathError as exc:
            results.append(("missing", str(exc)))
    return results


def test_json_paths_evaluate_as_before_and_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given what moto's own code answers, and a count of jsonpath_ng parses
    expected = _evaluate([*PATHS, "$.nowhere"])
    assert expected[-1][0] == "missing"
    parses: list[str] = []
    original = json_path.parse.__wrapped__ if hasattr(json_path.parse, "__wrapped__") else json_path.parse

    def counting_parse(path: str) -> Any:
        parses.append(path)
        return original(path)

    monkeypatch.setattr(json_path, "parse", counting_parse)
    # When the JSONPath cache is put over it and every path is evaluated three times
    moto_speedups._cache_json_paths()
    results = [_evaluate([*PATHS, "$.nowhere"]) for _ in range(3)]
    # Then every answer is moto's own (a missing path still raises, each time), and each path was parsed once
    assert results == [expected] * 3
    assert sorted(parses) == sorted([*PATHS, "$.nowhere"])


def test_result_path_writes_into_the_state_input_as_before() -> None:
    # Given the speedups installed (idempotent) and a ResultPath parsed twice
    moto_speedups.install()
    state_input = {"dialog_id": "d-1", "enrichment": {"status": "ok"}}
    # When a task result is placed under $.enrichment.result twice
    first = result_path.parse("$.enrichment.result").update_or_create(dict(state_input), {"a": 1})
    second = result_path.parse("$.enrichment.result").update_or_create({"dialog_id": "d-2"}, {"b": 2})
    # Then each write lands in its own input (the parsed path holds no data between uses)
    assert first == {"dialog_id": "d-1", "enrichment": {"status": "ok", "result": {"a": 1}}}
    assert second == {"dialog_id": "d-2", "enrichment": {"result": {"b": 2}}}


RICH_ITEM: dict[str, Any] = {
    "dialog_id": {"S": "d-1"}, "n": {"N": "12.5"}, "b": {"B": b"\x00\x01bytes"}, "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x", b"y"]}, "null": {"NULL": True}, "flag": {"BOOL": False},
    "workflow": {"M": {"status": {"S": "running"}, "steps": {"L": [{"S": "begin"}, {"M": {"n": {"N": "1"}}}]},
                       "empty": {"M": {}}, "none": {"NULL": True}}},
    "list": {"L": [{"N": "1"}, {"L": []}, {"BOOL": True}, {"B": b"z"}]},
}


def _raw_answers() -> list[bytes]:
    """Raw bodies moto answers over the wire: DynamoDB (JSON, plain dicts), IAM (XML, model objects), Step Functions."""
    import boto3

    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    ddb, iam = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("iam", region_name="us-east-1")
    for client in (ddb, iam):
        client.meta.events.register("after-call.*", keep)
    key = {"dialog_id": {"S": "d-1"}}
    ddb.update_item(TableName="t", Key=key, UpdateExpression="SET #c = if_not_exists(#c, :z) + :one",
                    ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":z": {"N": "0"},
                                                                                          ":one": {"N": "1"}},
                    ReturnValues="ALL_NEW")
    ddb.update_item(TableName="t", Key=key, UpdateExpression="SET workflow.#s = :s",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "done"}},
                    ReturnValues="UPDATED_OLD")
    ddb.get_item(TableName="t", Key=key)
    ddb.query(TableName="t", KeyConditionExpression="dialog_id = :d", ExpressionAttributeValues={":d": {"S": "d-1"}})
    ddb.describe_table(TableName="t")
    iam.get_role(RoleName="r")
    iam.list_roles()
    ddb.put_item(TableName="t", Item=RICH_ITEM)  # back to the item both rounds start from
    return [re.sub(rb"<RequestId>[^<]*</RequestId>", b"", body) for body in bodies]


def test_serialized_answers_are_moto_own_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.core import responses, serialize

    moto_speedups.install()
    with mock_aws():
        # Given a table holding an item of every attribute type, nested, and an IAM role
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "dialog_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "dialog_id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="t", Item=RICH_ITEM)
        boto3.client("iam", region_name="us-east-1").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        # When moto answers the same calls with its own member picking and method listing, then with the cached ones
        with monkeypatch.context() as original:
            for cls in (serialize.AttributePicker, serialize.XFormedAttributePicker):
                original.setattr(cls, "get_possible_keys", cls.__dict__["get_possible_keys"].__wrapped__)
            original.setattr(responses, "method_names_from_class", responses.method_names_from_class.__wrapped__)
            original.setattr(serialize.ResponseSerializer, "get_value",
                             serialize.ResponseSerializer.__dict__["get_value"].__wrapped__)
            original.setattr(serialize.BaseJSONSerializer, "_serialize_type_structure",
                             serialize.BaseJSONSerializer.__dict__["_serialize_type_structure"].__wrapped__)
            expected = _raw_answers()
        cached = [_raw_answers(), _raw_answers()]
    # Then every body is byte for byte what moto's own code answered (first use and cached use)
    assert len(expected) == 8
    assert cached == [expected, expected]


MACHINE = {
    "StartAt": "Shape",
    "States": {
        "Shape": {"Type": "Pass", "Parameters": {"items.$": "$.items", "label.$": "States.Format('n={}', $.n)"},
                  "ResultPath": "$.shaped", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 2, "Next": "Each"}],
                 "Default": "Small"},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Both"},
        "Each": {"Type": "Map", "ItemsPath": "$.shaped.items", "MaxConcurrency": 3, "ResultPath": "$.mapped",
                 "Iterator": {"StartAt": "Odd?", "States": {
                     "Odd?": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "One"}],
                              "Default": "Other"},
                     "One": {"Type": "Pass", "Parameters": {"one.$": "$.v"}, "End": True},
                     "Other": {"Type": "Pass", "Parameters": {"other.$": "States.MathAdd($.v, 10)"}, "End": True}}},
                 "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.branches", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"a.$": "$.n"}, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": {"b": True}, "End": True}}}],
                 "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 4, "Next": "Refuse"}],
                  "Default": "Done"},
        "Refuse": {"Type": "Fail", "Error": "Four", "Cause": "n is 4"},
        "Done": {"Type": "Succeed"},
    },
}


def _run_executions(sfn: Any, arn: str, tag: str) -> list[tuple[str, str, str | None, list[tuple[str, str]]]]:
    """Start executions of every path at once; each one's status, output and its history (type, state entered),
    sorted (Map iterations and Parallel branches interleave in any order)."""
    import time

    inputs = [{"n": n, "items": [{"v": v} for v in range(n)]} for n in (1, 3, 4, 5, 6)]
    arns = [sfn.start_execution(stateMachineArn=arn, name=f"{tag}-{i}", input=json.dumps(doc))["executionArn"]
            for i, doc in enumerate(inputs)]
    results = []
    for execution_arn in arns:
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        history = sorted((e["type"], (e.get("stateEnteredEventDetails") or {}).get("name", "")) for e in events)
        results.append((described["status"], described.get("output", ""), described.get("error"), history))
    return results


def test_state_machine_program_built_once_runs_every_execution_as_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.parse import asl_parser

    moto_speedups.install()
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    with mock_aws():
        # Given a machine with Pass, Choice, intrinsics, a concurrent Map, a Parallel and a Fail
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="m", definition=json.dumps(MACHINE),
                                       roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
        # When five executions run at once with moto's program built per execution, then twice with the cached one
        parse = asl_parser.AmazonStateLanguageParser.parse
        with monkeypatch.context() as original:
            original.setattr(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse.__wrapped__))
            expected = _run_executions(sfn, arn, "moto")
        cached = [_run_executions(sfn, arn, "cached-1"), _run_executions(sfn, arn, "cached-2")]
        program_a, _ = parse(json.dumps(MACHINE))
        program_b, _ = parse(json.dumps(MACHINE))
    # Then each execution ends as moto's own did (status, output, error, the states it went through)
    assert [r[0] for r in expected] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert cached == [expected, expected]
    assert program_a is program_b  # built once
