"""Every alarm and dashboard metric of the template is one that exists: deploying nothing, each `AWS::CloudWatch::Alarm`
(as CloudFormation receives it) is checked against the metrics AWS documents it publishes, per namespace, with their
dimension sets and what each dimension must name; a `Callhook` metric must be one the code emits. And every function
has what on-call needs: Errors and Throttles alarms, an IteratorAge alarm and an alarmed on-failure queue for each
stream event source.

The table below is AWS's published metrics, from each service's "CloudWatch metrics" page: API Gateway "HTTP API
metrics and dimensions", Lambda "Types of metrics for Lambda functions", SQS "Available CloudWatch metrics for Amazon
SQS", Step Functions "Execution metrics" / "Dimensions for Step Functions execution metrics".
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.transformed import of_type, transformed_template
from tests.unit.test_template_ops import _emitted_metrics

TEMPLATE = transformed_template()
RESOURCES = TEMPLATE["Resources"]
ALARMS = of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
FUNCTIONS = of_type(TEMPLATE, "AWS::Lambda::Function")
MAPPINGS = of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping")

# namespace -> (metric names, the dimension-name sets each is published with, dimension -> the resource it names)
PUBLISHED: dict[str, tuple[set[str], list[frozenset[str]], dict[str, str]]] = {
    "AWS/ApiGateway": (  # HTTP APIs (an HTTP API publishes no CacheHitCount/IntegrationError: those are REST's)
        {"4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"},
        [frozenset({"ApiId"}), frozenset({"ApiId", "Stage"}), frozenset({"ApiId", "Stage", "Resource", "Method"})],
        {"ApiId": "AWS::ApiGatewayV2::Api", "Stage": "stage"}),
    "AWS/Lambda": (
        {"Invocations", "Errors", "DeadLetterErrors", "DestinationDeliveryFailures", "Throttles",
         "OversizedRecordCount", "ProvisionedConcurrencySpilloverInvocations", "RecursiveInvocationsDropped",
         "Duration", "PostRuntimeExtensionsDuration", "IteratorAge", "OffsetLag", "ConcurrentExecutions",
         "ProvisionedConcurrentExecutions", "ProvisionedConcurrencyUtilization", "UnreservedConcurrentExecutions",
         "ClaimedAccountConcurrency", "AsyncEventsReceived", "AsyncEventAge", "AsyncEventsDropped"},
        [frozenset({"FunctionName"}), frozenset({"FunctionName", "Resource"}),
         frozenset({"FunctionName", "ExecutedVersion"})],
        {"FunctionName": "AWS::Lambda::Function"}),
    "AWS/SQS": (
        {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
         "ApproximateNumberOfMessagesVisible", "NumberOfEmptyReceives", "NumberOfDeduplicatedSentMessages",
         "NumberOfMessagesDeleted", "NumberOfMessagesReceived", "NumberOfMessagesSent", "SentMessageSize"},
        [frozenset({"QueueName"})],
        {"QueueName": "AWS::SQS::Queue"}),
    "AWS/States": (
        {"ExecutionTime", "ExecutionThrottled", "ExecutionsAborted", "ExecutionsFailed", "ExecutionsStarted",
         "ExecutionsSucceeded", "ExecutionsTimedOut", "ExecutionsRedriven", "RedrivenExecutionsAborted",
         "RedrivenExecutionsFailed", "RedrivenExecutionsSucceeded", "RedrivenExecutionsTimedOut"},
        [frozenset({"StateMachineArn"})],
        {"StateMachineArn": "AWS::StepFunctions::StateMachine"}),
    "Callhook": (set(), [frozenset({"service"})], {}),  # Powertools' EMF: POWERTOOLS_SERVICE_NAME is the dimension
}
# Only these metrics carry IteratorAge: Lambda publishes it for stream event sources alone.
STREAM_ONLY = {"IteratorAge", "OffsetLag"}


def _named(value: Any) -> str | None:
    """The logical id a dimension value names (Ref, GetAtt), or None for a literal."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def _stages_of(api: str) -> list[Any]:
    return [s["Properties"]["StageName"] for s in of_type(TEMPLATE, "AWS::ApiGatewayV2::Stage").values()
            if s["Properties"]["ApiId"] == {"Ref": api}]


def _check_metric(namespace: str, metric: str, dimensions: dict[str, Any], where: str) -> None:
    assert namespace in PUBLISHED, f"{where}: namespace {namespace} is not one this stack's metrics are in"
    names, dimension_sets, targets = PUBLISHED[namespace]
    if namespace == "Callhook":
        assert metric in _emitted_metrics(), f"{where}: no code emits Callhook/{metric}"
        assert dimensions == {"service": "callhook"}, f"{where}: Powertools publishes with service=callhook only"
        return
    assert metric in names, f"{where}: {namespace} publishes no metric {metric!r}"
    assert frozenset(dimensions) in dimension_sets, \
        f"{where}: {namespace}/{metric} has no dimensions {sorted(dimensions)}"
    for name, value in dimensions.items():
        if name == "Stage":
            assert value in _stages_of(str(_named(dimensions["ApiId"]))), f"{where}: no such stage {value}"
            continue
        logical = _named(value)
        assert logical is not None, f"{where}: dimension {name} is a literal, not the stack's resource"
        assert RESOURCES[logical]["Type"] == targets[name], f"{where}: {name} names {logical}, not a {targets[name]}"
        if name == "QueueName":
            assert value == {"Fn::GetAtt": [logical, "QueueName"]}, f"{where}: QueueName is the queue's name, not URL"
    if metric in STREAM_ONLY:
        function = _named(dimensions["FunctionName"])
        assert any(m["Properties"]["FunctionName"] == {"Ref": function} for m in MAPPINGS.values()), \
            f"{where}: {function} has no stream event source, so no {metric}"


def test_the_template_has_the_alarms_this_test_guards() -> None:
    assert len(ALARMS) >= 40
    namespaces = {a["Properties"]["Namespace"] for a in ALARMS.values()}
    assert {"AWS/ApiGateway", "AWS/Lambda", "AWS/SQS", "AWS/States", "Callhook"} <= namespaces


@pytest.mark.parametrize("logical", sorted(ALARMS))
def test_alarm_watches_a_metric_aws_publishes_and_tells_the_alarm_topic(logical: str) -> None:
    props = ALARMS[logical]["Properties"]
    assert "Metrics" not in props, f"{logical}: metric math is not covered by this test"
    dimensions = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
    _check_metric(props["Namespace"], props["MetricName"], dimensions, logical)
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], f"{logical}: nobody hears it"
    assert props.get("TreatMissingData") == "notBreaching"  # no traffic is not an incident
    assert props["Statistic"] in ("Sum", "Maximum", "Minimum", "Average", "SampleCount")


def _dashboard_metrics() -> list[list[Any]]:
    (dashboard,) = of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${X} -> a marker naming X, so that each dimension can be checked against the resource it names
    body = re.sub(r"\$\{([^}]+)\}", lambda m: f"@{m.group(1)}", text)
    return [m for w in json.loads(body)["widgets"] for m in w["properties"]["metrics"] if isinstance(m[0], str)]


def _as_value(marker: str) -> Any:
    if not marker.startswith("@"):
        return marker
    name = marker[1:]
    if name == "StageName":
        return {"Ref": "StageName"}
    logical, _, attribute = name.partition(".")
    return {"Fn::GetAtt": [logical, attribute]} if attribute else {"Ref": logical}


@pytest.mark.parametrize("metric", _dashboard_metrics(), ids=lambda m: f"{m[0]}/{m[1]}/{m[3] if len(m) > 3 else ''}")
def test_dashboard_metric_is_one_aws_publishes(metric: list[Any]) -> None:
    namespace, name, *rest = metric
    pairs = [x for x in rest if not isinstance(x, dict)]
    dimensions = {pairs[i]: _as_value(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    _check_metric(namespace, name, dimensions, f"dashboard {namespace}/{name}")


def _alarmed(namespace: str, metric: str, dimension: str) -> set[str]:
    return {str(_named(d["Value"])) for a in ALARMS.values() if (p := a["Properties"])["Namespace"] == namespace
            and p["MetricName"] == metric for d in p["Dimensions"] if d["Name"] == dimension}


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_every_function_alarms_on_its_errors_and_throttles_as_lambda_counts_them(logical: str) -> None:
    assert logical in _alarmed("AWS/Lambda", "Errors", "FunctionName"), f"{logical}: crashes and timeouts go unseen"
    assert logical in _alarmed("AWS/Lambda", "Throttles", "FunctionName"), f"{logical}: throttles go unseen"


def test_the_webhook_api_alarms_on_5xx_as_api_gateway_counts_them() -> None:
    (api,) = of_type(TEMPLATE, "AWS::ApiGatewayV2::Api")
    assert api in _alarmed("AWS/ApiGateway", "5xx", "ApiId")


STREAM_CONSUMERS = sorted({str(_named(m["Properties"]["FunctionName"])) for m in MAPPINGS.values()})


def test_the_stream_consumers_are_the_ones_the_issue_names() -> None:
    assert STREAM_CONSUMERS == ["CheckConfigFunction", "ExpireFunction", "NormalizeOperatorFunction",
                                "ReleaseHeldFunction"]


@pytest.mark.parametrize("logical", STREAM_CONSUMERS)
def test_every_stream_consumer_alarms_on_its_iterator_age(logical: str) -> None:
    assert logical in _alarmed("AWS/Lambda", "IteratorAge", "FunctionName")


@pytest.mark.parametrize("mapping", sorted(MAPPINGS))
def test_every_stream_event_source_keeps_its_failed_batches_in_an_alarmed_queue_its_role_may_write(
        mapping: str) -> None:
    props = MAPPINGS[mapping]["Properties"]
    destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    queue = _named(destination)
    assert queue is not None, f"{mapping}: a batch that fails its retries is dropped, and nobody knows which"
    assert destination == {"Fn::GetAtt": [queue, "Arn"]} and RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
    assert queue in _alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    assert int(props["MaximumRetryAttempts"]) >= 1
    function = str(_named(props["FunctionName"]))
    role = str(_named(FUNCTIONS[function]["Properties"]["Role"]))
    statements = [s for p in RESOURCES[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert any("sqs:SendMessage" in json.dumps(s["Action"]) and s["Resource"] == destination for s in statements)
    # and `callhook dlq` knows the queue (its Output, and the function it redrives to)
    outputs = TEMPLATE["Outputs"]
    assert outputs[queue]["Value"] == {"Ref": queue}
    assert outputs[function]["Value"] == {"Ref": function}


def test_spooled_requests_waiting_alarm() -> None:
    assert _alarmed("Callhook", "SpoolWaiting", "service") == {"None"}  # a literal dimension: service=callhook
