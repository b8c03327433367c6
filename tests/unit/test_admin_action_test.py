"""`callhook action test` on fakes of its ports: the sample becomes the call the Enrich step would see (through the
channel's mapping), the action runs once, and the report says which operator and topic the answer would give, or
why the action failed and whether Step Functions would retry it."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.errors import ActionHTTPError, ActionNotFoundError, DependencyUnavailableError
from callhook.models.action import ActionRun, ActionRunRequest, EnrichmentResult, parse_action
from callhook_admin.errors import AdminError, ItemNotFoundError
from callhook_admin.services.action_test import ActionTestPorts, ActionTestReport, try_action
from tests.support.fakes import FakeActions, FakeChannels, FakeOperators, FakeRunner, FakeTopics

ACTION = parse_action({"action_id": "crm", "type": "http", "request": {"url": "https://crm.example.com/{telephony.caller}"},
                       "result": {"operator_email": "agent.email", "topic": "line"}})
CHANNEL = {"channel_id": "pbx", "webhook_token": "pbx-channel-token-000001",
           "advanced_config": {"field_mapping": {"call_id": "CallSid", "caller": "From"}}}
OPERATORS = ({"user_id": 17, "email": "ann@example.com", "active": True},
             {"user_id": 18, "email": "bob@example.com", "active": False})


def ran(**result: Any) -> ActionRun:
    return ActionRun(action_id="crm", type="http", status_code=200, elapsed_ms=12, result=EnrichmentResult(**result),
                     request=ActionRunRequest(method="GET", url="https://crm.example.com/+12025550143"))


def tried(sample: dict[str, Any], runner: FakeRunner, **options: Any) -> ActionTestReport:
    return try_action("crm", sample, ActionTestPorts(
        actions=FakeActions(ACTION), channels=FakeChannels(CHANNEL), run_action=runner,
        operators=FakeOperators(*OPERATORS), topics=FakeTopics("sales")), **options)


def test_a_raw_body_is_mapped_by_the_channel_and_the_answer_resolves_operator_and_topic() -> None:
    runner = FakeRunner(ran(operator_email="Ann@Example.com", topic="sales"))
    report = tried({"CallSid": "CA1", "From": "+12025550143"}, runner, channel_id="pbx")
    assert runner.states[0]["telephony"]["caller"] == "+12025550143"  # what the Enrich step would send
    assert (report.ok, report.status_code, report.operator_id, report.topic and report.topic.alias) == (
        True, 200, 17, "sales")


def test_an_inactive_operator_and_an_unknown_topic_are_what_the_steps_would_decide() -> None:
    report = tried({"telephony": {"call_id": "c1"}}, FakeRunner(ran(operator_email="bob@example.com",
                                                                           topic="Sales")))
    assert report.operator_id is None and [r.code for r in report.operator_attempts] == ["operator_inactive"]
    assert report.topic is not None and report.topic.reason is not None
    assert report.topic.reason.code == "no_such_topic"


@pytest.mark.parametrize(("error", "retryable"), [
    (ActionHTTPError("crm answered 500", status_code=500), False),
    (DependencyUnavailableError("crm timed out; retried by Step Functions"), True),
])
def test_a_failing_action_is_a_report_with_the_request_it_would_send(error: Exception, retryable: bool) -> None:
    report = tried({"telephony": {"call_id": "c1", "caller": "+12025550143"}}, FakeRunner(error=error))
    assert not report.ok and report.error is not None and report.error["retryable"] is retryable
    assert report.request is not None and report.request.url == "https://crm.example.com/%2B12025550143"
    assert report.operator_attempts == [] and report.topic is None


def test_an_unknown_action_or_channel_or_an_unusable_sample_is_an_error() -> None:
    with pytest.raises(ActionNotFoundError):
        try_action("nope", {}, ActionTestPorts(actions=FakeActions(), channels=FakeChannels(),
                                               run_action=FakeRunner(), operators=FakeOperators(), topics=FakeTopics()))
    with pytest.raises(ItemNotFoundError, match="no channel 'other'"):
        tried({"CallSid": "CA1"}, FakeRunner(ran()), channel_id="other")
    with pytest.raises(AdminError, match="finds no call_id"):
        tried({"From": "+12025550143"}, FakeRunner(ran()), channel_id="pbx")
