"""callhook_admin.services.config: defaults are the models' and the reader's, applied once (never by the CLI).

Through moto's DynamoDB (the `aws` fixture), with items put raw as the console writes them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from callhook.aws import to_item
from callhook.models.channel import Channel, EnrichErrorAction
from callhook.models.directory import DEFAULT_OPERATOR_ID, DEFAULT_OPERATOR_SETTING
from callhook.repositories.config import read_default_operator_id
from callhook_admin.errors import AdminError
from callhook_admin.services.config import (
    KNOWN_SETTINGS,
    listed_actions,
    listed_channels,
    put_channel,
    restore_masked_secrets,
    set_setting,
    setting,
    settings_view,
)


def _put_raw(table: str, item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=to_item(item))


def test_an_unstored_known_setting_shows_the_default_the_services_apply(aws: dict[str, str]) -> None:
    # Given nothing stored
    table = aws["SETTINGS_TABLE"]
    # When / Then: the CLI's view and the reader of the AssignOperator step agree, from one constant
    shown = setting(table, DEFAULT_OPERATOR_SETTING)
    assert (shown.value, shown.default) == (DEFAULT_OPERATOR_ID, True)
    assert read_default_operator_id(table) == (shown.value, None)
    assert KNOWN_SETTINGS[DEFAULT_OPERATOR_SETTING].default == DEFAULT_OPERATOR_ID
    assert [(v.key, v.value, v.default) for v in settings_view(table)] == [
        (DEFAULT_OPERATOR_SETTING, DEFAULT_OPERATOR_ID, True)]
    # And an unknown setting that is not stored is an admin error naming the known ones
    with pytest.raises(AdminError, match=f"no setting 'nope'; known: {DEFAULT_OPERATOR_SETTING}"):
        setting(table, "nope")
    # When settings are stored, they are shown as stored
    set_setting(table, DEFAULT_OPERATOR_SETTING, 17)
    _put_raw(table, {"key": "custom", "value": "x"})
    # When / Then
    assert setting(table, DEFAULT_OPERATOR_SETTING).model_dump() == {
        "key": DEFAULT_OPERATOR_SETTING, "value": 17, "default": False}
    assert {v.key: (v.value, v.default) for v in settings_view(table)} == {
        DEFAULT_OPERATOR_SETTING: (17, False), "custom": ("x", False)}


def test_listed_items_have_the_models_defaults_and_an_invalid_one_none(aws: dict[str, str]) -> None:
    # Given a minimal channel and an invalid one, put raw (as the console writes them)
    table = aws["CHANNELS_TABLE"]
    _put_raw(table, {"channel_id": "a-min", "webhook_token": "t" * 24})
    _put_raw(table, {"channel_id": "b-bad", "webhook_token": "short", "enrich_error_action": "maybe"})
    # When
    valid, invalid = listed_channels(table)
    # Then the valid one reads as the model reads it
    assert valid.model == Channel.model_validate({"channel_id": "a-min", "webhook_token": "t" * 24})
    assert valid.model is not None and (valid.model.active, valid.model.enrich_error_action,
                                        valid.model.auto_transcription) == (True, EnrichErrorAction.DO_NOT_ASSIGN,
                                                                            False)
    # And the invalid one is as stored, nothing filled in, with its problems
    assert invalid.model is None and "active" not in invalid.item
    assert {p.path for p in invalid.problems} == {"webhook_token", "enrich_error_action"}
    # Given an action put raw without `type` (docs/items.md makes it http) and one with a typo
    actions = aws["ACTIONS_TABLE"]
    _put_raw(actions, {"action_id": "a", "request": {"url": "https://crm.example.com/x"}})
    _put_raw(actions, {"action_id": "b", "type": "htp", "request": {"url": "https://crm.example.com/x"}})
    # When
    good, bad = listed_actions(actions)
    # Then
    assert good.model is not None and (good.model.type, good.model.target) == ("http",
                                                                               "GET https://crm.example.com/x")
    assert bad.model is None and [p.path for p in bad.problems] == ["type"]


def test_put_channel_fills_a_token_once_and_only_without_authentication(aws: dict[str, str]) -> None:
    # Given / When
    table = aws["CHANNELS_TABLE"]
    generated = put_channel(table, {"channel_id": "gen"})
    kept = put_channel(table, {"channel_id": "kept", "webhook_token": "k" * 20})
    # Then
    assert generated.webhook_token and len(generated.webhook_token) >= 16
    assert kept.webhook_token == "k" * 20
    assert (generated.version, put_channel(table, generated.model_dump(mode="json")).version) == (1, 2)


def test_masked_secrets_stand_for_the_stored_ones() -> None:
    stored = {"webhook_token": "s" * 20, "signature": {"scheme": "x", "secret": "real"}}
    data = {"webhook_token": "***", "signature": {"scheme": "x", "secret": "***"}}
    assert restore_masked_secrets(data, stored, "***") == stored
    with pytest.raises(AdminError, match="no stored token"):
        restore_masked_secrets({"webhook_token": "***"}, None, "***")

