"""`callhook preset list|show`: the providers callhook knows (callhook.presets); no AWS call is needed."""

from __future__ import annotations

import pytest

from callhook.presets import list_presets
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


def test_preset_list_names_every_preset(cli: Cli) -> None:
    listed = cli.json("preset", "list")
    assert [p["name"] for p in listed] == [p.name for p in list_presets()]
    assert all(p["title"] for p in listed)
    table = cli.run("preset", "list")
    assert table.exit_code == 0
    assert "twilio" in table.stdout


def test_preset_show_prints_the_channel_fragment(cli: Cli) -> None:
    shown = cli.json("preset", "show", "twilio")
    assert shown["name"] == "twilio"
    assert shown["signature"]["scheme"] == "twilio"
    assert shown["advanced_config"]["field_mapping"]["call_id"]


def test_preset_show_unknown_names_the_known_ones(cli: Cli) -> None:
    error = cli.run("preset", "show", "twilo").error
    assert "no preset 'twilo'; known: " in error
    assert "twilio" in error
