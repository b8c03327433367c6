"""`callhook` configuration commands (docs/cli.md) on the local stack: channel, operator, topic, action, settings."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from callhook.models.directory import DEFAULT_OPERATOR_SETTING
from callhook_cli.output import MASK
from tests.integration.test_cli_support import Cli, write_json
from tests.support.stack import StackClient, unique

MAPPING = {"call_id": "CallSid", "caller": "From", "callee": "To", "status": "CallStatus"}


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture
def channel_file(tmp_path: Path) -> tuple[str, str]:
    channel_id = unique("cli")
    path = write_json(tmp_path / "channel.json", {"channel_id": channel_id, "name": "Main telephony",
                                                  "advanced_config": {"field_mapping": MAPPING}})
    return channel_id, path


# ------------------------------------------------------------------------------------------------------------ channel
def test_channel_put_generates_a_token_that_the_printed_webhook_url_accepts(
        cli: Cli, stack: StackClient, channel_file: tuple[str, str]) -> None:
    # Given a channel file without a token
    channel_id, path = channel_file
    # When
    saved = cli.json("channel", "put", path)
    # Then the token is generated, masked in the output, and the URL is the API's /webhooks/<id>
    assert saved["token_generated"] is True
    assert saved["channel"]["webhook_token"] == MASK
    assert saved["version"] == 1
    assert saved["webhook_url"] == f"{stack.stack.api_url}/webhooks/{channel_id}"
    shown = cli.json("--show-secrets", "channel", "get", channel_id)
    token = shown["webhook_token"]
    assert len(token) >= 16
    assert token != MASK
    # And a provider calling that URL with that token is accepted
    resp = stack.http.post(saved["webhook_url"], params={"token": token}, data={"CallSid": "cli-url-1"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"


def test_channel_put_again_without_a_token_keeps_the_token_the_provider_has(
        cli: Cli, stack: StackClient, channel_file: tuple[str, str]) -> None:
    # Given a channel put from a file without a token, and the provider using the generated token
    channel_id, path = channel_file
    url = cli.json("channel", "put", path)["webhook_url"]
    token = cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"]
    # When the same file is put again (the walkthrough's file has no token)
    again = cli.json("channel", "put", path)
    # Then the stored token stays, and the provider's calls are still accepted
    assert again["token"] == "kept" and again["token_generated"] is False
    assert cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"] == token
    resp = stack.http.post(url, params={"token": token}, data={"CallSid": unique("kept")}, timeout=30)
    assert resp.status_code == 200, resp.text
    # And the human-readable answer says so
    assert "(kept: the stored one)" in cli.run("channel", "put", path).stdout


def test_channel_put_rotate_token_replaces_it_only_when_asked(
        cli: Cli, stack: StackClient, channel_file: tuple[str, str], tmp_path: Path) -> None:
    # Given a stored channel and its token
    channel_id, path = channel_file
    url = cli.json("channel", "put", path)["webhook_url"]
    old = cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"]
    # When the admin rotates it
    rotated = cli.json("channel", "put", path, "--rotate-token")
    # Then a new token is stored: the old one is refused, the new one accepted
    assert rotated["token"] == "generated"
    new = cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"]
    assert new != old
    assert stack.http.post(url, params={"token": old}, data={"CallSid": unique("old")}, timeout=30).status_code == 401
    assert stack.http.post(url, params={"token": new}, data={"CallSid": unique("new")}, timeout=30).status_code == 200
    # And a file giving its own token cannot be combined with --rotate-token (a usage error, nothing written)
    own = write_json(tmp_path / "own.json", {"channel_id": channel_id, "webhook_token": "mine-" + "x" * 20})
    outcome = cli.run("channel", "put", own, "--rotate-token")
    assert outcome.exit_code == 2 and "--rotate-token" in outcome.error
    assert cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"] == new


def test_an_invalid_item_is_one_line_on_stderr_and_nothing_on_stdout(cli: Cli, tmp_path: Path) -> None:
    # Given a channel file with a misspelt field
    path = write_json(tmp_path / "typo.json", {"channel_id": unique("typo"), "enrich_error_acton": "assign_admin",
                                               "advanced_config": {"field_maping": MAPPING}})
    # When it is put without --json
    outcome = cli.run("channel", "put", path)
    # Then stdout is empty, the reason is one stderr line, exit 1, and each misspelt field gets its suggestion
    assert outcome.exit_code == 1
    assert outcome.stdout == ""
    assert "enrich_error_acton: Extra inputs are not permitted; did you mean `enrich_error_action`?" in outcome.error
    assert "advanced_config.field_maping: Extra inputs are not permitted; did you mean `field_mapping`?" \
        in outcome.error


def test_a_misspelt_action_and_operator_field_get_a_suggestion(cli: Cli, tmp_path: Path) -> None:
    action = write_json(tmp_path / "action.json", {"action_id": unique("act"), "type": "http",
                                                   "request": {"url": "https://crm.example.com/x", "methd": "GET"}})
    assert "request.methd: Extra inputs are not permitted; did you mean `method`?" in \
        cli.run("action", "put", action).error
    operator = write_json(tmp_path / "operator.json", {"user_id": 990001, "email": "o@example.com", "actve": True})
    assert "did you mean `active`?" in cli.run("operator", "put", operator).error


def test_channel_put_lists_every_problem_with_its_field_path_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    # Given a channel with three mistakes
    channel_id = unique("bad")
    path = write_json(tmp_path / "bad.json", {
        "channel_id": channel_id, "webhook_token": "short", "enrich_error_action": "assign_somebody",
        "advanced_config": {"field_mapping": {"call_id": "CallSid", "agent": "Agent"}}})
    # When
    outcome = cli.run("--json", "channel", "put", path)
    # Then every problem is named with its path, in the output and in the one-line reason
    error = outcome.error
    problems = {p["path"] for p in json.loads(outcome.stdout)["problems"]}
    assert problems == {"webhook_token", "enrich_error_action", "advanced_config.field_mapping"}
    for path_name in problems:
        assert path_name in error
    assert "3 problems" in error
    assert "no channel" in cli.run("channel", "get", channel_id).error


@pytest.mark.parametrize(("transcription", "reason"), [
    ({"redact_pii": True}, "does not redact with automatic language identification"),
    ({"redact_pii": ["PHONE"], "language": "ru-RU"}, "not ru-RU"),
    ({"channel_roles": {"0": "customer", "1": "customer"}}, "different roles"),
], ids=["redaction-with-language-identification", "redaction-in-ru-RU", "same-role-twice"])
def test_channel_put_refuses_transcription_settings_transcribe_refuses(cli: Cli, tmp_path: Path,
                                                                      transcription: dict, reason: str) -> None:
    # Given a channel whose transcription settings Amazon Transcribe would refuse when the job starts
    channel_id = unique("tr")
    path = write_json(tmp_path / "tr.json", {"channel_id": channel_id, "advanced_config": {
        "field_mapping": MAPPING, "transcription": transcription}})
    # When
    outcome = cli.run("--json", "channel", "put", path)
    # Then it is refused when saved, naming the field and why, and nothing is written
    assert [p["path"] for p in json.loads(outcome.stdout)["problems"]] == ["advanced_config.transcription"]
    assert reason in outcome.error
    assert "no channel" in cli.run("channel", "get", channel_id).error
    # And the same settings Transcribe accepts are saved
    fixed = {**transcription, "language": "en-US"} if "redact_pii" in transcription else {
        "channel_roles": {"0": "agent", "1": "customer"}}
    write_json(tmp_path / "tr.json", {"channel_id": channel_id, "advanced_config": {
        "field_mapping": MAPPING, "transcription": fixed}})
    assert cli.json("channel", "put", path)["version"] == 1


def test_channel_put_refuses_a_stale_version_and_keeps_masked_secrets(cli: Cli, channel_file: tuple[str, str],
                                                                      tmp_path: Path) -> None:
    # Given a stored channel, read back as JSON (version 1, token masked)
    channel_id, path = channel_file
    cli.json("channel", "put", path)
    token = cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"]
    read = cli.json("channel", "get", channel_id)
    assert read["version"] == 1
    assert read["webhook_token"] == MASK
    # When the admin saves the read copy with a change
    first = write_json(tmp_path / "first.json", {**read, "name": "Renamed"})
    saved = cli.json("channel", "put", first)
    # Then it is written (version 2) and the mask kept the stored token
    assert saved["version"] == 2
    assert saved["token_generated"] is False
    assert cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"] == token
    # When another admin saves their copy of version 1
    stale = write_json(tmp_path / "stale.json", {**read, "name": "Other edit"})
    outcome = cli.run("channel", "put", stale)
    # Then it is refused, and nothing changed
    assert "version conflict" in outcome.error
    assert "version 2, not 1" in outcome.error
    assert cli.json("channel", "get", channel_id)["name"] == "Renamed"
    # And --if-version states the expected version explicitly
    assert cli.json("channel", "put", stale, "--if-version", "2")["version"] == 3


def test_channel_put_applies_the_preset_as_the_webhook_path_does(cli: Cli, tmp_path: Path) -> None:
    # Given a channel on a preset that signs, and one on a preset that does not exist
    signed = unique("tw")
    path = write_json(tmp_path / "tw.json", {"channel_id": signed, "advanced_config": {"preset": "twilio"},
                                              "signature": {"secret": "twilio-auth-token-0123"}})
    unknown = write_json(tmp_path / "unknown.json", {"channel_id": unique("x"),
                                                     "advanced_config": {"preset": "twillio"}})
    # When
    saved = cli.json("channel", "put", path)
    refused = cli.run("channel", "put", unknown)
    # Then the preset's scheme applies and its secret is masked; the unknown preset is refused before it is saved
    assert saved["authentication"] == "requests must carry a valid twilio signature"
    assert saved["channel"]["signature"] == {"secret": MASK}
    assert "unknown preset 'twillio'" in refused.error


def test_channel_list_and_delete(cli: Cli, channel_file: tuple[str, str]) -> None:
    # Given
    channel_id, path = channel_file
    cli.json("channel", "put", path)
    listed = {c["channel_id"]: c for c in cli.json("channel", "list")}
    assert listed[channel_id]["webhook_token"] == MASK
    # When
    refused = cli.run("channel", "delete", channel_id, input="n\n")
    deleted = cli.json("channel", "delete", channel_id, "--yes")
    # Then
    assert refused.exit_code == 1
    assert refused.stderr.endswith("Error: not deleted (confirm, or pass --yes)\n")  # after the prompt
    assert deleted == {"deleted": channel_id}
    assert "no channel" in cli.run("channel", "get", channel_id).error
    assert "no channel" in cli.run("channel", "delete", channel_id, "--yes").error


# ----------------------------------------------------------------------------------------------------------- operator
def test_operator_put_from_options_updates_only_what_is_given(cli: Cli, tmp_path: Path) -> None:
    # Given an operator created from options
    user_id = str(100_000 + uuid.uuid4().int % 800_000)
    email = f"op-{uuid.uuid4().hex[:8]}@example.com"
    created = cli.json("operator", "put", "--user-id", user_id, "--email", email, "--name", "Ann", "--ext", "301")
    assert created["active"] is True
    # When only --inactive is given
    cli.json("operator", "put", "--user-id", user_id, "--inactive")
    # Then the other fields are kept
    got = cli.json("operator", "get", user_id)
    assert got == {"user_id": int(user_id), "email": email, "active": False, "name": "Ann", "ext": "301"}
    # And a file replaces the operator
    path = write_json(tmp_path / "op.json", {"user_id": int(user_id), "email": email.upper(), "name": "Ann B."})
    assert cli.json("operator", "put", path)["active"] is True
    assert int(user_id) in {o["user_id"] for o in cli.json("operator", "list")}


def test_operator_put_rejects_an_invalid_email_with_its_path(cli: Cli) -> None:
    outcome = cli.run("operator", "put", "--user-id", "5", "--email", "not-an-email")
    assert "email: not an email address" in outcome.error


# -------------------------------------------------------------------------------------------------- topic and action
def test_topic_put_and_list(cli: Cli) -> None:
    alias = unique("topic")
    assert cli.json("topic", "put", "--alias", alias, "--name", "Online calls") == {"alias": alias,
                                                                                     "name": "Online calls"}
    assert {"alias": alias, "name": "Online calls"} in cli.json("topic", "list")


def test_action_put_get_list_with_versions_and_problems(cli: Cli, tmp_path: Path) -> None:
    # Given an action as docs/items.md shows it
    action_id = unique("act")
    item = {"action_id": action_id, "type": "http", "params": {"base_url": "https://pbx.example.com"},
            "secrets": {"api_key": "ssm:/callhook/pbx/api-key"},
            "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                        "headers": {"Authorization": "Bearer {secrets.api_key}"}, "timeout_s": 5},
            "result": {"operator_email": "data.agent.email", "topic": "data.line"}}
    # When
    saved = cli.json("action", "put", write_json(tmp_path / "a.json", item))
    again = cli.json("action", "put", write_json(tmp_path / "b.json", {**item, "version": 1}))
    # Then
    assert (saved["version"], again["version"]) == (1, 2)
    assert cli.json("action", "get", action_id)["secrets"] == {"api_key": "ssm:/callhook/pbx/api-key"}
    assert action_id in {a["action_id"] for a in cli.json("action", "list")}
    # And a typo in a placeholder and a bad JMESPath are refused with their paths
    broken = {**item, "request": {**item["request"], "url": "{params.base_url}/calls/{secret.api_key}"},
              "result": {"operator_email": "data.[agent"}}
    error = cli.run("action", "put", write_json(tmp_path / "c.json", broken)).error
    assert "result.operator_email" in error
    assert "invalid JMESPath" in error


# ----------------------------------------------------------------------------------------------------------- settings
def test_settings_get_set_and_refuse_unknown_keys(cli: Cli) -> None:
    # Given / When the default operator is changed
    before = cli.json("settings", "get", DEFAULT_OPERATOR_SETTING)
    try:
        set_answer = cli.json("settings", "set", DEFAULT_OPERATOR_SETTING, "987654")
        # Then it is stored as a number, with a warning that no such operator exists
        assert set_answer["value"] == 987654
        assert "does not exist" in set_answer["warning"]
        assert cli.json("settings", "get", DEFAULT_OPERATOR_SETTING) == {
            "key": DEFAULT_OPERATOR_SETTING, "value": 987654, "default": False}
        assert cli.json("settings", "get")[DEFAULT_OPERATOR_SETTING] == 987654
    finally:
        cli.json("settings", "set", DEFAULT_OPERATOR_SETTING, str(before["value"]))
    # And wrong values and unknown keys get a one-line reason
    assert "must be an integer" in cli.run("settings", "set", DEFAULT_OPERATOR_SETTING, "root").error
    assert "unknown setting" in cli.run("settings", "set", "telephony_autotranscribe_default_operatr_id", "1").error
    assert "no setting" in cli.run("settings", "get", "no_such_setting").error


# ------------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("args", "expected"), [
    (("channel", "get", "no-such-channel"), "no channel 'no-such-channel'"),
    (("operator", "get", "999999999"), "no operator with user_id 999999999"),
    (("action", "get", "no-such-action"), "no action 'no-such-action'"),
    (("dialog", "get", "d-nosuchdialog"), "no dialog 'd-nosuchdialog'"),
    (("dialog", "explain", "d-nosuchdialog"), "no dialog 'd-nosuchdialog'"),
    (("dialog", "replay", "d-nosuchdialog"), "no dialog 'd-nosuchdialog'"),
    (("dialog", "find", "--channel", "nope", "--call-id", "x"), "no dialog for call 'x' on channel 'nope'"),
    (("execution", "history", "d-nosuchdialog"), "no dialog 'd-nosuchdialog'"),
    (("events", "replay", "e-nosuchevent"), "no raw event 'e-nosuchevent'"),
    (("action", "test", "no-such-action", "--event", "EVENT"), "no action 'no-such-action' in Action Jail"),
    (("channel", "put", "MISSING"), "no such file"),
    (("channel", "put", "NOTJSON"), "is not valid JSON: Expecting"),
    (("channel", "put", "ARRAY"), "a channel is a JSON object, not list"),
    (("dialog", "list", "--channel", "c", "--next", "%%%"), "invalid --next token"),
    (("dialog", "list", "--channel", "c", "--since", "yesterday-ish"), "--since: cannot read"),
])
def test_user_errors_are_one_line_reasons(cli: Cli, tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    # Given files for the file cases
    files = {"MISSING": str(tmp_path / "missing.json"), "EVENT": write_json(tmp_path / "event.json", {"telephony": {
        "call_id": "x"}}), "ARRAY": write_json(tmp_path / "array.json", [1])}
    (tmp_path / "bad.json").write_text('{"channel_id": "x",')
    files["NOTJSON"] = str(tmp_path / "bad.json")
    # When
    outcome = cli.run(*(files.get(a, a) for a in args))
    # Then
    assert expected in outcome.error
    assert outcome.exit_code in (1, 2)


def test_usage_errors_are_one_line_with_exit_code_2(cli: Cli) -> None:
    missing = cli.run("channel", "get")
    unknown = cli.run("dialog", "list", "--channel", "c", "--bogus")
    assert missing.exit_code == 2
    assert "missing argument 'channel_id'" in missing.error.lower()
    assert unknown.exit_code == 2
    assert "No such option: --bogus" in unknown.error


def test_local_excludes_deployed_stack_options(cli: Cli) -> None:
    outcome = cli.run("--env", "prod", "channel", "list")
    assert outcome.exit_code == 2
    assert "--local cannot be combined with --env" in outcome.error


def test_global_flags_may_follow_the_command(cli: Cli, channel_file: tuple[str, str]) -> None:
    channel_id, path = channel_file
    cli.json("channel", "put", path)
    outcome = cli.run("channel", "get", channel_id, "--json", "--show-secrets")
    assert outcome.json()["webhook_token"] != MASK


def test_people_get_tables_and_panels(cli: Cli, channel_file: tuple[str, str]) -> None:
    # Given
    channel_id, path = channel_file
    # When / Then: each command renders for a terminal without error
    put = cli.run("channel", "put", path)
    assert put.exit_code == 0, put.stderr
    assert f"/webhooks/{channel_id}" in put.stdout
    assert MASK in put.stdout
    for args in (("channel", "list"), ("channel", "get", channel_id), ("operator", "list"), ("topic", "list"),
                 ("action", "list"), ("settings", "get"), ("target",)):
        outcome = cli.run(*args)
        assert outcome.exit_code == 0, (args, outcome.stderr)
        assert outcome.stdout.strip()
