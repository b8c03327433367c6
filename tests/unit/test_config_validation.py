"""One validation, whoever saves: the channel and action models run the checks ingest and the workflow
apply (JMESPath with callhook's functions and their arity, time zones, secret references, presets), and operator
items are read as the DynamoDB console leaves them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callhook.mapping import validate_timezone
from callhook.models.action import parse_action
from callhook.models.channel import Channel
from callhook.models.directory import Operator, normalize_ext, operator_derived_attributes, parse_operator_id
from callhook.models.problems import problems_of
from callhook.services.config_check import check_item


def _channel(**advanced: Any) -> dict[str, Any]:
    return {"channel_id": "ch-1", "webhook_token": "t" * 24, "advanced_config": advanced}


def _paths(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.message for p in problems_of(exc.value)}


def test_channel_refuses_an_unknown_function_in_accept_when_naming_the_path() -> None:
    with pytest.raises(ValidationError) as exc:
        Channel.model_validate(_channel(accept_when="nosuchfn(a)"))
    assert "unknown function nosuchfn()" in _paths(exc)["advanced_config.accept_when"]


def test_channel_refuses_a_broken_mapping_expression_naming_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        Channel.model_validate(_channel(field_mapping={"call_id": "CallSid", "caller": "call.from[["}))
    paths = _paths(exc)
    assert list(paths) == ["advanced_config.field_mapping.caller"]
    assert "invalid JMESPath expression" in paths["advanced_config.field_mapping.caller"]


@pytest.mark.parametrize("expr", ["to_iso(a, b, c)", "to_seconds()", "map_value(a)", "update_when_typo(x)"])
def test_channel_refuses_our_functions_with_the_wrong_arity(expr: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Channel.model_validate(_channel(field_mapping={"started_at": expr}))
    assert "advanced_config.field_mapping.started_at" in _paths(exc)


def test_channel_accepts_our_functions_used_right() -> None:
    channel = Channel.model_validate(_channel(
        field_mapping={"started_at": "to_iso(ts, 'Europe/Kyiv')", "duration": "to_seconds(d)",
                       "direction": "map_value(t, `{\"0\": \"inbound\"}`)"},
        accept_when="from_json(payload).status == 'done'", update_when=""))
    assert channel.advanced_config.update_when is None


@pytest.mark.parametrize("zone", ["+03:00", "-0530", "UTC", "Europe/Kyiv", "Asia/Kolkata", "Mars/Olympus",
                                  "+25:00", "utc+3", ""])
def test_channel_timezone_follows_the_one_rule_to_iso_uses(zone: str) -> None:
    # Then the channel accepts exactly the zones the mapping functions can read
    try:
        Channel.model_validate(_channel(timezone=zone))
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == (validate_timezone(zone) is None)


def test_an_offset_timezone_is_accepted() -> None:
    assert Channel.model_validate(_channel(timezone="+03:00")).advanced_config.timezone == "+03:00"


@pytest.mark.parametrize(("secret", "ok"), [("plain-value-123", True), ("ssm:/callhook/sig", True),
                                            ("ssm:", False), ("secretsmanager:callhook/sig", False)])
def test_a_signature_secret_is_a_value_or_a_reference_ingest_can_read(secret: str, ok: bool) -> None:
    item = {"channel_id": "ch-1", "signature": {"scheme": "hmac-sha256", "secret": secret}}
    if ok:
        Channel.model_validate(item)
    else:
        with pytest.raises(ValidationError, match="signature"):
            Channel.model_validate(item)


def _action(**overrides: Any) -> dict[str, Any]:
    return {"action_id": "a", "type": "http", "request": {"url": "https://x.example/{telephony.call_id}"},
            "result": {"operator_email": "data.agent.email"}} | overrides


def test_action_result_expressions_are_checked_with_our_functions() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_action(_action(result={"operator_email": "nosuchfn(data)"}))
    assert "unknown function nosuchfn()" in _paths(exc)["result.operator_email"]
    assert parse_action(_action(result={"topic": "map_value(data.line, `{\"1\": \"online\"}`)"}))


def test_action_secret_references_name_a_kind_and_a_name() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_action(_action(secrets={"k": "ssm:"}))
    assert "secrets.k" in _paths(exc)
    with pytest.raises(ValidationError):
        parse_action(_action(secrets={"k": "plain"}))


def test_check_item_names_every_invalid_field_path() -> None:
    check = check_item("channel", _channel(accept_when="nosuchfn(a)", field_mapping={"caller": "call.from[["},
                                           timezone="Mars/Olympus"))
    assert not check.valid
    assert sorted(check.invalid_fields) == ["advanced_config.accept_when", "advanced_config.field_mapping.caller",
                                            "advanced_config.timezone"]
    assert check_item("action", _action()).valid


# --------------------------------------------------------------------------------------------------- operators
def test_an_operator_written_in_the_console_reads_like_one_written_by_the_cli() -> None:
    console = {"user_id": 17, "email": " Ann@Example.COM ", "active": True, "name": "Ann", "ext": 101}
    operator = Operator.from_item(console)
    assert operator.ext == "101"
    assert operator_derived_attributes(console) == {"email_key": "ann@example.com", "ext_key": "101"}
    assert Operator.from_item(operator.item()) == operator  # the CLI's item, derived keys included, reads back


@pytest.mark.parametrize(("value", "expected"), [(101, "101"), ("101", "101"), (" 101 ", "101"), (101.0, "101"),
                                                 ("0101", "0101"), (None, None), ("", None), (True, None),
                                                 (1.5, None), ([1], None)])
def test_an_extension_is_compared_as_text(value: Any, expected: str | None) -> None:
    assert normalize_ext(value) == expected


def test_an_invalid_extension_makes_the_operator_invalid_not_silently_different() -> None:
    with pytest.raises(ValidationError, match="ext"):
        Operator.from_item({"user_id": 1, "email": "a@b.c", "ext": True})


@pytest.mark.parametrize(("value", "expected"), [(17, 17), ("17", 17), (" 17 ", 17), (17.0, 17), ("seventeen", None),
                                                 (True, None), (1.5, None), ("", None), (None, None)])
def test_the_default_operator_setting_is_a_number_or_a_numeric_string(value: Any, expected: int | None) -> None:
    assert parse_operator_id(value) == expected
