"""Ops guarantees, read from the template as CloudFormation deploys it: every function's logs expire, every
asynchronous invocation ends in a dead-letter queue with an alarm on its depth, and the dashboard charts only
metrics the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from callhook.models.api import WebhookAnswer
from tests.support.transformed import of_type, transformed_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = transformed_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = of_type(TEMPLATE, "AWS::Lambda::Function")
# Functions the code invokes with InvocationType=Event (their names reach the invoker through the environment).
ASYNC_BY_CODE = {"KeepRecordingFunction"}
# A schedule's event carries no data: the next tick (5 minutes later) does the same work, nothing to keep.
SCHEDULED = {"ReconcileFunction"}


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_function_logs_to_its_own_group_kept_log_retention_days(logical: str) -> None:
    group = _ref(FUNCTIONS[logical]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
    assert group is not None, f"{logical}: logs to a group Lambda creates, kept forever"
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_function_has_its_own_log_group() -> None:
    groups = [_ref(f["Properties"]["LoggingConfig"]["LogGroup"]) for f in FUNCTIONS.values()]
    assert len(set(groups)) == len(FUNCTIONS)
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] in TEMPLATE["Parameters"]["LogRetentionDays"][
        "AllowedValues"]


def _rule_targets() -> list[tuple[str, dict[str, Any]]]:
    return [(name, target) for name, rule in of_type(TEMPLATE, "AWS::Events::Rule").items()
            for target in rule["Properties"].get("Targets", [])]


def _asynchronous_functions() -> set[str]:
    targets = {_ref(t["Arn"]) for _, t in _rule_targets()}
    return ({t for t in targets if t in FUNCTIONS} | ASYNC_BY_CODE) - SCHEDULED


def _alarmed_queues() -> set[str]:
    found = set()
    for alarm in of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/SQS" and props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            found |= {_ref(d["Value"]) for d in props["Dimensions"] if d["Name"] == "QueueName"}
        assert props.get("AlarmActions"), "an alarm nobody hears"
    return found


def test_the_asynchronous_functions_are_the_ones_this_test_expects() -> None:
    assert _asynchronous_functions() == {"KeepRecordingFunction", "TranscribeCallbackFunction"}
    # the code that makes the asynchronous invokes is where the list above says
    requests = ROOT / "layers/common/python/callhook/repositories/recording_requests.py"
    assert 'InvocationType="Event"' in requests.read_text()


@pytest.mark.parametrize("logical", sorted(_asynchronous_functions()))
def test_asynchronous_function_keeps_what_it_failed_on_in_an_alarmed_queue(logical: str) -> None:
    queue = _ref(FUNCTIONS[logical]["Properties"].get("DeadLetterConfig", {}).get("TargetArn"))
    assert queue is not None, f"{logical}: Lambda drops a failed asynchronous invoke after its retries"
    assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
    assert queue in _alarmed_queues()
    # Lambda's own retries are stated, not left to the default
    configs = [c["Properties"] for c in of_type(TEMPLATE, "AWS::Lambda::EventInvokeConfig").values()
               if c["Properties"]["FunctionName"] == {"Ref": logical}]
    assert len(configs) == 1 and configs[0]["MaximumRetryAttempts"] == 2
    # and its role may write to the queue
    role = _ref(FUNCTIONS[logical]["Properties"]["Role"])
    statements = [s for p in RESOURCES[str(role)]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert any("sqs:SendMessage" in json.dumps(s["Action"]) and _ref(s["Resource"]) == queue for s in statements)


def test_every_rule_target_function_has_a_dead_letter_queue_the_rule_may_write() -> None:
    for rule, target in _rule_targets():
        if _ref(target["Arn"]) in SCHEDULED or "ReconcileFunction" in rule:
            continue
        queue = _ref(target.get("DeadLetterConfig", {}).get("Arn"))
        assert queue is not None, f"{rule}: an undeliverable event is dropped"
        assert queue in _alarmed_queues()
        policies = [p["Properties"]["PolicyDocument"] for p in of_type(TEMPLATE, "AWS::SQS::QueuePolicy").values()
                    if {"Ref": queue} in p["Properties"]["Queues"]]
        assert any(s["Principal"] == {"Service": "events.amazonaws.com"} and s["Action"] == "sqs:SendMessage"
                   and s["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}
                   for p in policies for s in p["Statement"])


def _emitted_metrics() -> set[str]:
    """Every metric name the code passes to add_metric (the f-string one expands to the answers' statuses)."""
    names: set[str] = set()
    for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers/common/python/callhook").rglob("*.py")]:
        text = path.read_text()
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        for a, b in re.findall(r'add_metric\(\s*name="(\w+)" if .*?\n?\s*else "(\w+)"', text):
            names |= {a, b}
    answers = get_args(WebhookAnswer.model_fields["status"].annotation)
    return names | {f"Webhook{status.title()}" for status in answers}


def _dashboard_metrics() -> list[list[Any]]:
    (dashboard,) = of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    body = re.sub(r"\$\{[^}]+\}", "x", dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    return [m for w in json.loads(body)["widgets"] for m in w["properties"]["metrics"]]


def test_dashboard_charts_only_metrics_the_code_emits() -> None:
    charted = {m[1] for m in _dashboard_metrics() if m[0] == "Callhook"}
    assert charted - _emitted_metrics() == set()


def test_dashboard_has_what_on_call_looks_at() -> None:
    charted = {(m[0], m[1]) for m in _dashboard_metrics() if isinstance(m[0], str)}
    stats = {(m[1], m[-1].get("stat")) for m in _dashboard_metrics() if isinstance(m[0], str)}
    for name in ("WebhookAccepted", "WebhookRejected", "WebhookServerError", "WebhookHeld", "WebhookSpooled",
                 "EnrichmentFailed", "OperatorAssigned", "OperatorNotAssigned", "TranscriptionMinutes",
                 "TranscriptionFailed"):
        assert ("Callhook", name) in charted, name
    assert {("AWS/States", "ExecutionsStarted"), ("AWS/States", "ExecutionsFailed")} <= charted
    assert {("Duration", "p50"), ("Duration", "p99")} <= stats  # ingest latency
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in charted
