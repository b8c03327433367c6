"""callhook.services.actions and callhook.models.action: real HTTP to the fake PBX, secrets from moto."""

from __future__ import annotations

import io
import json
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import ValidationError

from callhook.errors import (
    ActionConnectionError,
    ActionError,
    ActionFunctionError,
    ActionHTTPError,
    ActionInvalidJSONError,
    ActionMissingResultError,
    ActionResponseTooLargeError,
    ActionSecretError,
    ActionTemplateError,
    ActionTimeoutError,
    BlockedDestinationError,
    DependencyUnavailableError,
)
from callhook.models.action import Action, EnrichmentResult, parse_action
from callhook.services.actions import map_result, render, render_json, run_action
from callhook_local.fake_pbx import INACTIVE_EMAIL, UNKNOWN_EMAIL, UNKNOWN_TOPIC, FakePBX, start_fake_pbx

SECRET_NAME = "/callhook/pbx/api-key"
API_KEY = "s3cr3t/key+with=odd&chars"  # characters that percent-encoding changes, so every form must be masked


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def clear_parameter_caches() -> Iterator[None]:
    parameters.clear_caches()
    yield
    parameters.clear_caches()


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm")
        client.put_parameter(Name=SECRET_NAME, Value=API_KEY, Type="SecureString")
        yield client


@pytest.fixture
def fake_pbx() -> Iterator[FakePBX]:
    with start_fake_pbx(api_key=API_KEY) as pbx:
        pbx.set_call("c-1", email=" Ann@Example.com ", line="online")
        yield pbx


def _action(pbx: FakePBX | None = None, **changes: Any) -> Action:
    item: dict[str, Any] = {
        "action_id": "pbx-operator-lookup",
        "type": "http",
        "params": {"base_url": pbx.url if pbx else "https://pbx.example.com"},
        "secrets": {"api_key": f"ssm:{SECRET_NAME}"},
        "request": {
            "method": "GET",
            "url": "{params.base_url}/calls/{telephony.call_id}",
            "headers": {"Authorization": "Bearer {secrets.api_key}"},
            "timeout_s": 2,
        },
        "result": {"operator_email": "data.agent.email", "topic": "data.line"},
        "allow_private_network": True,
    }
    for key, value in changes.items():
        if key == "request":
            item["request"] = {**item["request"], **value}
        else:
            item[key] = value
    return parse_action(item)


def _state(call_id: str = "c-1", **telephony: Any) -> dict[str, Any]:
    return {"telephony": {"call_id": call_id, **telephony}, "channel": {"channel_id": "main"}}


def _key(_reference: str) -> str:
    return API_KEY


def _assert_no_secret(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, ActionError):
        text += json.dumps(exc.as_dict())
    for form in (API_KEY, "s3cr3t%2Fkey", "s3cr3t"):
        assert form not in text


def test_run_action_maps_operator_email_and_topic_from_pbx(
    ssm: Any, fake_pbx: FakePBX, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the contract's example action, its key in SSM, and a call the PBX knows
    action = _action(fake_pbx)
    # When
    run = run_action(action, _state("c-1"))
    # Then the mapped result is cleaned and the request is shown with the secret masked
    assert run.result == EnrichmentResult(operator_email="Ann@Example.com", topic="online")
    assert run.status_code == 200
    assert run.request.url == f"{fake_pbx.url}/calls/c-1"
    assert run.request.headers == {"Authorization": "Bearer ***"}
    assert fake_pbx.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert "s3cr3t" not in run.model_dump_json()
    assert "s3cr3t" not in capsys.readouterr().out


def test_run_action_reads_secret_from_secrets_manager(fake_pbx: FakePBX) -> None:
    # Given the key in Secrets Manager
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="callhook/pbx", SecretString=API_KEY)
        action = _action(fake_pbx, secrets={"api_key": "secretsmanager:callhook/pbx"})
        # When
        run = run_action(action, _state("c-1"))
    # Then
    assert run.result.operator_email == "Ann@Example.com"


def test_run_action_names_the_secret_reference_that_cannot_be_read(ssm: Any, fake_pbx: FakePBX) -> None:
    # Given a reference to a parameter that does not exist
    action = _action(fake_pbx, secrets={"api_key": "ssm:/callhook/missing"})
    # When / Then
    with pytest.raises(ActionSecretError, match=r"ssm:/callhook/missing could not be read \(ParameterNotFound\)"):
        run_action(action, _state("c-1"))
    assert fake_pbx.requests == []


def test_render_percent_encodes_state_and_secret_values_in_url_but_not_params() -> None:
    # Given a call id that tries to change the path, and a base URL parameter
    context = {
        "params": {"base_url": "https://pbx.example.com/api"},
        "telephony": {"call_id": "../a b?c#d"},
        "secrets": {"k": "x/y"},
    }
    # When
    url = render("{params.base_url}/calls/{telephony.call_id}?key={secrets.k}", context, where="u", in_url=True)
    header = render("id {telephony.call_id}", context, where="h")
    # Then
    assert url == "https://pbx.example.com/api/calls/..%2Fa%20b%3Fc%23d?key=x%2Fy"
    assert header == "id ../a b?c#d"


@pytest.mark.parametrize(("call_id", "why"), [
    ("..", "dot segment"), (".", "dot segment"), ("", "empty"),
])
def test_render_refuses_a_url_value_that_would_change_the_path(call_id: str, why: str) -> None:
    # Given a call id that, as a path segment, would move the request (".." resolves to the parent)
    context = {"params": {"base_url": "https://pbx.example.com/api"}, "telephony": {"call_id": call_id}}
    # When / Then: refused, naming the placeholder and why
    with pytest.raises(ActionTemplateError, match=why) as caught:
        render("{params.base_url}/calls/{telephony.call_id}/agent", context, where="request.url", in_url=True)
    assert caught.value.details["placeholder"] == "telephony.call_id"


@pytest.mark.parametrize(("call_id", "expected"), [
    ("...", "/calls/.../agent"), ("a/../b", "/calls/a%2F..%2Fb/agent"), ("%2e%2e", "/calls/%252e%252e/agent"),
    ("?x=1#f", "/calls/%3Fx%3D1%23f/agent"), ("..%2F", "/calls/..%252F/agent"),
], ids=["three-dots", "slashes", "encoded-dots", "query-fragment", "encoded-slash"])
def test_render_keeps_any_other_value_in_one_segment(call_id: str, expected: str) -> None:
    context = {"params": {"base_url": "https://pbx.example.com"}, "telephony": {"call_id": call_id}}
    url = render("{params.base_url}/calls/{telephony.call_id}/agent", context, where="request.url", in_url=True)
    assert url == f"https://pbx.example.com{expected}"


def test_render_refuses_a_url_whose_path_reads_as_a_dot_segment_once_decoded() -> None:
    # Given a template whose own text holds an encoded dot segment (servers decode %2E before resolving), and an
    # empty value in the query (allowed: it adds no path segment)
    context = {"telephony": {"call_id": "c-1", "c": ""}, "params": {"base_url": "https://pbx.example.com"}}
    # When / Then
    with pytest.raises(ActionTemplateError, match=r"'\.\.' segment"):
        render("{params.base_url}/x/%2E%2E/{telephony.call_id}", context, where="request.url", in_url=True)
    assert render("{params.base_url}/x?q={telephony.c}", context, where="u", in_url=True).endswith("/x?q=")


@pytest.mark.parametrize("call_id", ["..", "."])
def test_a_dot_call_id_never_reaches_another_path_with_the_bearer_secret(fake_pbx: FakePBX, call_id: str) -> None:
    # Given an action whose URL puts the call id between two fixed segments
    action = _action(fake_pbx, request={"url": "{params.base_url}/calls/{telephony.call_id}/agent"})
    # When
    with pytest.raises(ActionTemplateError, match="dot segment"):
        run_action(action, _state(call_id), secrets_resolver=_key)
    # Then: nothing was sent anywhere, let alone to /calls/agent or /agent with the key
    assert fake_pbx.requests == []


def test_url_values_reach_the_external_system_as_one_segment_each(fake_pbx: FakePBX) -> None:
    # Given call ids with every character that could change the path, query or fragment
    action = _action(fake_pbx, request={"url": "{params.base_url}/calls/{telephony.call_id}"})
    for call_id in ["a/../../b", "x?y=1", "h#frag", "100%", "..."]:
        fake_pbx.set_call(call_id, email="ann@example.com", line="online")
        # When
        run = run_action(action, _state(call_id), secrets_resolver=_key)
        # Then: the PBX received exactly one segment after /calls/, and found the call by it
        received = fake_pbx.requests[-1].path
        assert received.startswith("/calls/") and "/" not in received.removeprefix("/calls/"), received
        assert "?" not in received and "#" not in received
        assert run.result.operator_email == "ann@example.com"


def test_render_fills_dotted_paths_lists_numbers_and_literal_braces() -> None:
    # Given a full-state context
    context = {"telephony": {"duration": 42, "raw": {"legs": [{"id": "L1"}]}}, "dialog": {"dialog_id": "d-1"}}
    # When
    text = render("{{x}} {telephony.duration} {telephony.raw.legs.0.id} {dialog.dialog_id}", context, where="w")
    # Then
    assert text == "{x} 42 L1 d-1"


@pytest.mark.parametrize("placeholder", ["telephony.operator_ext", "dialog.dialog_id", "telephony.raw.legs.3"])
def test_render_names_a_placeholder_without_value(placeholder: str) -> None:
    # Given a state without that value (no "dialog" outside full state mode)
    context: dict[str, Any] = {"telephony": {"call_id": "c-1", "operator_ext": None, "raw": {"legs": []}}}
    # When / Then
    with pytest.raises(ActionTemplateError) as caught:
        render(f"/x/{{{placeholder}}}", context, where="request.url")
    assert caught.value.code == "template"
    assert caught.value.details == {"placeholder": placeholder, "where": "request.url"}
    assert f"{{{placeholder}}}" in caught.value.message


def test_render_json_keeps_the_type_of_a_whole_placeholder() -> None:
    # Given a JSON body template
    context = {"telephony": {"call_id": "c-1", "duration": 42}, "channel": {"channel_id": "main"}}
    body = {
        "id": "{telephony.call_id}",
        "seconds": "{telephony.duration}",
        "note": "call {telephony.call_id}",
        "tags": ["{channel.channel_id}", 7],
    }
    # When
    rendered = render_json(body, context, where="request.json_body")
    # Then
    assert rendered == {"id": "c-1", "seconds": 42, "note": "call c-1", "tags": ["main", 7]}


def test_run_action_sends_encoded_path_query_and_json_body(fake_pbx: FakePBX) -> None:
    # Given a POST action using the call id in the path, the query and the body
    action = _action(
        fake_pbx,
        request={
            "method": "POST",
            "query": {"channel": "{channel.channel_id}"},
            "json_body": {"call": "{telephony.call_id}", "n": "{telephony.duration}"},
        },
    )
    fake_pbx.set_call("a/b?c", email="bob@example.com", line="offline")
    # When
    run = run_action(action, _state("a/b?c", duration=42), secrets_resolver=_key)
    # Then
    received = fake_pbx.requests[0]
    assert received.path == "/calls/a%2Fb%3Fc?channel=main"
    assert json.loads(received.body) == {"call": "a/b?c", "n": 42}
    assert run.result.operator_email == "bob@example.com"
    assert run.request.url == f"{fake_pbx.url}/calls/a%2Fb%3Fc?channel=main"


def test_run_action_refuses_a_header_value_with_a_line_break(fake_pbx: FakePBX) -> None:
    # Given webhook data that tries to inject a header
    action = _action(fake_pbx, request={"headers": {"X-Call": "{telephony.call_id}"}}, secrets={})
    # When / Then
    with pytest.raises(ActionTemplateError, match="line break"):
        run_action(action, _state("c-1\r\nX-Injected: 1"))
    assert fake_pbx.requests == []


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_run_action_raises_dependency_unavailable_for_5xx_and_429(fake_pbx: FakePBX, status: int) -> None:
    # Given a PBX answering an error that may pass
    fake_pbx.set_behaviour("c-1", status=status)
    # When / Then
    with pytest.raises(DependencyUnavailableError, match=f"answered {status}"):
        run_action(_action(fake_pbx), _state("c-1"), secrets_resolver=_key)


def test_run_action_succeeds_when_retried_after_two_failures(fake_pbx: FakePBX) -> None:
    # Given a PBX that fails twice, then answers (Step Functions retries DependencyUnavailableError)
    fake_pbx.set_behaviour("c-1", fail_times=2)
    action = _action(fake_pbx)
    # When
    failures = []
    for _ in range(2):
        with pytest.raises(DependencyUnavailableError) as caught:
            run_action(action, _state("c-1"), secrets_resolver=_key)
        failures.append(caught.value)
    run = run_action(action, _state("c-1"), secrets_resolver=_key)
    # Then
    assert len(failures) == 2
    assert run.result.topic == "online"
    assert len(fake_pbx.requests) == 3


def test_run_action_times_out_as_dependency_unavailable(fake_pbx: FakePBX) -> None:
    # Given a slow PBX and a short timeout
    fake_pbx.set_behaviour("c-1", delay_s=2)
    action = _action(fake_pbx, request={"timeout_s": 0.3})
    # When / Then: retryable, with the timeout as its cause
    with pytest.raises(DependencyUnavailableError, match=r"did not answer within 0\.3s") as caught:
        run_action(action, _state("c-1"), secrets_resolver=_key)
    assert isinstance(caught.value.__cause__, ActionTimeoutError)


def test_run_action_connection_refused_is_dependency_unavailable() -> None:
    # Given a PBX that is down
    pbx = start_fake_pbx()
    action = _action(pbx)
    pbx.stop()
    # When / Then
    with pytest.raises(DependencyUnavailableError) as caught:
        run_action(action, _state("c-1"), secrets_resolver=_key)
    assert isinstance(caught.value.__cause__, ActionConnectionError)


def test_run_action_raises_invalid_json_for_garbage(fake_pbx: FakePBX) -> None:
    # Given a PBX answering HTML
    fake_pbx.set_behaviour("c-1", preset="garbage")
    # When / Then
    with pytest.raises(ActionInvalidJSONError) as caught:
        run_action(_action(fake_pbx), _state("c-1"), secrets_resolver=_key)
    assert caught.value.code == "invalid_json"
    assert "502 Bad Gateway" in caught.value.details["body_excerpt"]


def test_run_action_raises_oversized_for_a_huge_answer(fake_pbx: FakePBX) -> None:
    # Given a PBX answering 2 MiB and an action capped at 100 KiB
    fake_pbx.set_behaviour("c-1", huge_bytes=2 * 1024 * 1024)
    action = _action(fake_pbx, max_response_bytes=100 * 1024)
    # When / Then
    with pytest.raises(ActionResponseTooLargeError) as caught:
        run_action(action, _state("c-1"), secrets_resolver=_key)
    assert caught.value.code == "oversized"


def test_run_action_raises_missing_result_for_an_empty_required_key(fake_pbx: FakePBX) -> None:
    # Given a call without an agent email and an action that requires one
    fake_pbx.set_call("c-2", line="online")
    action = _action(fake_pbx, required=["operator_email"])
    # When / Then
    with pytest.raises(ActionMissingResultError) as caught:
        run_action(action, _state("c-2"), secrets_resolver=_key)
    assert caught.value.code == "missing_result"
    assert caught.value.details == {"key": "operator_email", "expression": "data.agent.email"}


def test_run_action_without_required_keys_succeeds_with_empty_values(fake_pbx: FakePBX) -> None:
    # Given a call without an agent email and nothing required
    fake_pbx.set_call("c-2", line="online")
    # When
    run = run_action(_action(fake_pbx), _state("c-2"), secrets_resolver=_key)
    # Then
    assert run.result == EnrichmentResult(operator_email=None, topic="online")


def test_run_action_reports_wrong_key_as_http_error_without_the_key(fake_pbx: FakePBX) -> None:
    # Given a PBX expecting another key
    fake_pbx.set_api_key("the-right-key")
    # When
    with pytest.raises(ActionHTTPError) as caught:
        run_action(_action(fake_pbx), _state("c-1"), secrets_resolver=_key)
    # Then
    assert caught.value.details["status_code"] == 401
    assert caught.value.code == "http_status"
    _assert_no_secret(caught.value)


def test_run_action_masks_secrets_the_external_system_echoes(fake_pbx: FakePBX) -> None:
    # Given a key sent in the query, and a PBX whose 404 answer echoes the request path
    action = _action(fake_pbx, request={"query": {"key": "{secrets.api_key}"}})
    # When
    with pytest.raises(ActionHTTPError) as caught:
        run_action(action, _state("unknown-call"), secrets_resolver=_key)
    # Then the echo is masked in the message, the details and the chain
    assert fake_pbx.requests[0].query["key"] == API_KEY
    assert "key=***" in caught.value.details["body_excerpt"]
    _assert_no_secret(caught.value)


def test_run_action_masks_secrets_in_transport_errors() -> None:
    # Given a key in the URL path of a PBX that is down (the library's error quotes the path)
    pbx = start_fake_pbx()
    action = _action(pbx, request={"url": "{params.base_url}/calls/{telephony.call_id}/{secrets.api_key}"})
    pbx.stop()
    # When
    with pytest.raises(DependencyUnavailableError) as caught:
        run_action(action, _state("c-1"), secrets_resolver=_key)
    # Then
    _assert_no_secret(caught.value)


def test_run_action_refuses_the_fake_pbx_without_allow_private_network(fake_pbx: FakePBX) -> None:
    # Given an item that does not allow private addresses
    action = _action(fake_pbx, allow_private_network=False)
    # When / Then
    with pytest.raises(BlockedDestinationError, match=r"loopback address 127\.0\.0\.1 refused"):
        run_action(action, _state("c-1"), secrets_resolver=_key)
    assert fake_pbx.requests == []


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("unknown_email", EnrichmentResult(operator_email=UNKNOWN_EMAIL, topic="online")),
        ("inactive_email", EnrichmentResult(operator_email=INACTIVE_EMAIL, topic="online")),
        ("unknown_topic", EnrichmentResult(operator_email="Ann@Example.com", topic=UNKNOWN_TOPIC)),
    ],
)
def test_run_action_reports_what_the_pbx_says_for_assignment_to_judge(
    fake_pbx: FakePBX, preset: str, expected: EnrichmentResult
) -> None:
    # Given a PBX returning data callhook does not know (matching is the assignment step's job)
    fake_pbx.set_behaviour("c-1", preset=preset)
    # When
    run = run_action(_action(fake_pbx), _state("c-1"), secrets_resolver=_key)
    # Then
    assert run.result == expected


def test_map_result_coerces_known_keys_and_keeps_other_keys_in_extra() -> None:
    # Given an answer with a numeric topic, padded strings and other fields
    action = _action(
        result={
            "operator_email": "agent",
            "topic": "line",
            "recording_url": "rec",
            "ext": "ext",
            "tags": "tags",
            "missing": "nope",
        }
    )
    document = {"agent": "  ann@example.com\n", "line": 7, "rec": ["not", "a", "url"], "ext": " 101 ", "tags": ["a"]}
    # When
    result = map_result(action, document)
    # Then
    assert result == EnrichmentResult(
        operator_email="ann@example.com",
        topic="7",
        recording_url=None,
        extra={"ext": "101", "tags": ["a"], "missing": None},
    )


def test_run_action_maps_the_answer_of_a_lambda_action() -> None:
    # Given a lambda action and a Lambda client that answers
    invoker = FakeLambda({"agent": {"email": "ann@example.com"}, "topic": "offline"})
    action = parse_action(
        {
            "action_id": "crm",
            "type": "lambda",
            "function_name": "callhook-action-crm-lookup",
            "params": {"region": "eu"},
            "result": {"operator_email": "agent.email", "topic": "topic"},
        }
    )
    # When
    run = run_action(action, _state("c-9"), lambda_invoker=invoker)
    # Then
    assert run.result == EnrichmentResult(operator_email="ann@example.com", topic="offline")
    assert run.request.url == "lambda:callhook-action-crm-lookup"
    assert invoker.calls[0]["FunctionName"] == "callhook-action-crm-lookup"
    assert json.loads(invoker.calls[0]["Payload"]) == {"action_id": "crm", "params": {"region": "eu"}, **_state("c-9")}


def test_run_action_raises_function_error_when_the_lambda_raises() -> None:
    # Given a function that raised
    invoker = FakeLambda({"errorType": "KeyError", "errorMessage": "'agent'"}, function_error="Unhandled")
    action = parse_action({"action_id": "crm", "type": "lambda", "function_name": "callhook-action-crm-lookup"})
    # When / Then
    with pytest.raises(ActionFunctionError, match="crm-lookup raised KeyError") as caught:
        run_action(action, _state(), lambda_invoker=invoker)
    assert caught.value.details == {"function_name": "callhook-action-crm-lookup", "error_type": "KeyError"}


def test_run_action_lambda_throttling_is_dependency_unavailable() -> None:
    # Given a throttled Lambda service
    invoker = FakeLambda(error_code="TooManyRequestsException")
    action = parse_action({"action_id": "crm", "type": "lambda", "function_name": "callhook-action-crm-lookup"})
    # When / Then
    with pytest.raises(DependencyUnavailableError, match="TooManyRequestsException"):
        run_action(action, _state(), lambda_invoker=invoker)


class FakeLambda:
    """The boto3 Lambda client's ``invoke``, answering one canned payload (or a ClientError)."""

    def __init__(self, answer: Any = None, *, function_error: str | None = None, error_code: str | None = None) -> None:
        self.answer, self.function_error, self.error_code = answer, function_error, error_code
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "Rate exceeded"}}, "Invoke")
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secrets": {"api_key": "env:PBX_KEY"}}, "must start with one of ssm:, secretsmanager:"),
        ({"result": {"operator_email": "data.agent.[email"}}, "invalid JMESPath expression"),
        ({"requird": ["operator_email"]}, "Extra inputs are not permitted"),
        ({"required": ["topic_alias"]}, "required keys ['topic_alias'] have no expression"),
        ({"request": {"timeout_s": 31}}, "less than or equal to 30"),
        ({"request": {"timeout_s": 0}}, "greater than 0"),
        ({"request": {"headers": {"Authorization": "Bearer {secrets.apikey}"}}}, "secret not declared"),
        ({"request": {"url": "{param.base_url}/x"}}, "must start with one of params, secrets"),
        ({"request": {"url": "{params.base}/x"}}, "parameter not set"),
        ({"request": {"headers": {"Host": "x"}}}, "set by callhook"),
        ({"type": "lambda"}, "needs `function_name`"),
    ],
)
def test_action_rejects_invalid_items_with_the_field_path(changes: dict[str, Any], message: str) -> None:
    # Given / When / Then
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("(", r"\(")):
        _action(**changes)


def test_action_error_for_bad_jmespath_names_the_result_key() -> None:
    # Given / When
    with pytest.raises(ValidationError) as caught:
        _action(result={"topic": "data..line"})
    # Then
    assert caught.value.errors()[0]["loc"] == ("result", "topic")


# ------------------------------------------------- secrets in action headers stay with their origin


@pytest.mark.parametrize(("same_origin", "expected"), [(False, None), (True, API_KEY)])
def test_a_header_built_from_a_secret_follows_only_a_same_origin_redirect(
    same_origin: bool, expected: str | None
) -> None:
    # Given an action whose X-Api-Key comes from its secrets, and a PBX that redirects (to another port: another
    # origin; or to itself)
    with start_fake_pbx(api_key=None) as pbx, start_fake_pbx(api_key=None) as other:
        target = pbx if same_origin else other
        target.set_call("c-2", email="bob@example.com")
        pbx.set_behaviour("c-1", redirect_to=f"{target.url}/calls/c-2")
        action = _action(pbx, request={"headers": {"X-Api-Key": "{secrets.api_key}", "X-Call": "{telephony.call_id}"}})
        # When
        run = run_action(action, _state("c-1"), secrets_resolver=_key)
        # Then the redirect was followed; the key reached the origin, and the target only when it is the origin
        assert run.result.operator_email == "bob@example.com"
        assert pbx.requests[0].headers.get("X-Api-Key") == API_KEY
        assert target.requests[-1].headers.get("X-Api-Key") == expected
        assert target.requests[-1].headers.get("X-Call") == "c-1"


@pytest.mark.parametrize("line", ["sales ", " sales", "Sales"])
def test_map_result_hands_the_topic_on_as_returned_for_the_exact_comparison(line: str) -> None:
    # An alias is compared exactly: trimming it here would make "sales " match "sales"
    result = map_result(_action(result={"topic": "line", "operator_email": "agent"}),
                        {"line": line, "agent": " ann@example.com "})
    assert result.topic == line
    assert result.operator_email == "ann@example.com"  # an email's spaces do not count


@pytest.mark.parametrize("status", [404, 503])
def test_an_error_answer_is_named_by_status_type_and_size_in_the_message(fake_pbx: FakePBX, status: int) -> None:
    # Given a PBX whose error page quotes something it should not
    fake_pbx.set_behaviour("c-1", status=status)
    # When
    with pytest.raises((ActionHTTPError, DependencyUnavailableError)) as caught:
        run_action(_action(fake_pbx), _state("c-1"), secrets_resolver=_key)
    # Then the message (what the dialog stores) says what came back without quoting it; the excerpt stays in the
    # details of the ActionHTTPError (chained under a retried failure), for `callhook action test`
    http = caught.value if isinstance(caught.value, ActionHTTPError) else caught.value.__cause__
    assert isinstance(http, ActionHTTPError)
    message = str(caught.value)
    assert f"answered {status} (application/json, {http.details['size']} bytes)" in message
    assert "path" not in message and "/calls/c-1" not in message
    assert "/calls/c-1" in http.details["body_excerpt"]
