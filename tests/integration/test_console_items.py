"""Through the console's door: every item type of docs/items.md written with a raw `put_item` of the
contract's JSON, as the DynamoDB console writes it, then a real call through the local stack (HTTP to the webhook
API, moto's Step Functions running the real ASL, the fake PBX answering the enrich action over HTTP).

Each item type is also written with the CLI in tests/integration/test_cli_config.py and the demo seed; here the
same calls must give the same dialogs when nothing but the console wrote the items.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from callhook.aws import from_item, to_item
from callhook.models.directory import DEFAULT_OPERATOR_SETTING
from callhook_local.demo import DEMO_SECRET_NAME
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient, function_output, unique

# docs/items.md, verbatim
CONTRACT_OPERATOR = {"user_id": 17, "email": "ann@example.com", "active": True, "name": "Ann", "ext": "101"}
CONTRACT_TOPIC = {"alias": "online", "name": "Online calls"}
WEBHOOK_MAPPING = {"call_id": "id", "operator_email": "agent_email", "operator_ext": "agent_ext"}


class Console:
    """What an admin does in the DynamoDB console: PutItem of the JSON as typed (numbers are N, strings S, true
    BOOL, null NULL), nothing derived, nothing validated."""

    def __init__(self, stack: StackClient) -> None:
        self.stack = stack
        self.ddb = stack.stack.client("dynamodb")

    def put(self, table: str, item: dict[str, Any]) -> None:
        self.ddb.put_item(TableName=self.stack.env[table], Item=to_item(item))

    def get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found = self.ddb.get_item(TableName=self.stack.env[table], Key=to_item(key), ConsistentRead=True)
        return from_item(found["Item"]) if "Item" in found else None

    def delete(self, table: str, key: dict[str, Any]) -> None:
        self.ddb.delete_item(TableName=self.stack.env[table], Key=to_item(key))


@pytest.fixture
def console(stack: StackClient) -> Console:
    return Console(stack)


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


def _user_id() -> int:
    return 100_000 + uuid.uuid4().int % 800_000


def _enriched_channel(console: Console, action_id: str = "demo-pbx-lookup", **overrides: Any) -> dict[str, Any]:
    channel = {"channel_id": unique("console-ch"), "name": "Console channel", "active": True,
               "webhook_token": uuid.uuid4().hex, "webhook_enrich_action": action_id,
               "enrich_error_action": "do_not_assign", "auto_transcription": False,
               "advanced_config": {"field_mapping": WEBHOOK_MAPPING, "accept_when": None, "update_when": None}}
    channel |= overrides
    console.put("CHANNELS_TABLE", channel)
    return channel


def _call(pbx: FakePBX, **answer: Any) -> dict[str, Any]:
    call_id = unique("call")
    pbx.set_call(call_id, **answer)
    return {"id": call_id}


# ----------------------------------------------------------------------------------------------------- operators
def test_the_contracts_operator_put_raw_is_assigned_from_an_email_in_another_case(
        stack: StackClient, console: Console, demo: FakePBX) -> None:
    # Given the contract's operator item exactly, put raw (no email_key: the console does not know it)
    console.put("OPERATORS_TABLE", CONTRACT_OPERATOR)
    channel = _enriched_channel(console)
    # When the action returns the email in another case
    dialog = stack.process(channel, _call(demo, email="Ann@Example.COM", line="online"))
    # Then operator 17 is assigned from the enrichment, and the stream function derived the index keys
    assert dialog.operator_id == 17, dialog.assignment
    assert dialog.assignment.source == "enrichment"
    stored = console.get("OPERATORS_TABLE", {"user_id": 17})
    assert stored is not None and stored["email_key"] == "ann@example.com" and stored["ext_key"] == "101"


@pytest.mark.parametrize(("stored_ext", "sent_ext"), [(4711, "4711"), (" 4712 ", 4712), ("4713", "4713")])
def test_an_extension_stored_as_a_number_or_a_string_matches_the_webhooks(
        stack: StackClient, console: Console, demo: FakePBX, stored_ext: Any, sent_ext: Any) -> None:
    # Given an operator with an extension only this test uses (number or string, as the admin typed it)
    ext = str(stored_ext).strip() + str(uuid.uuid4().int % 1_000_000).zfill(6)
    stored = int(ext) if isinstance(stored_ext, int) else (" " + ext + " " if stored_ext.startswith(" ") else ext)
    sent = int(ext) if isinstance(sent_ext, int) else ext
    user_id = _user_id()
    console.put("OPERATORS_TABLE", {"user_id": user_id, "email": f"ext-{user_id}@example.com", "active": True,
                                    "name": "Ext", "ext": stored})
    channel = _enriched_channel(console, action_id="")  # enrichment disabled: the webhook's own ext is used
    # When the webhook carries the extension
    dialog = stack.process(channel, {"id": unique("call"), "agent_ext": sent})
    # Then
    assert dialog.operator_id == user_id, dialog.assignment
    assert dialog.assignment.source == "webhook_ext"


def test_an_operator_is_found_before_its_derived_attributes_exist(
        stack: StackClient, console: Console, demo: FakePBX) -> None:
    # Given the stream function fails, so the console-written operator never gets email_key / ext_key
    user_id = _user_id()
    email = f"Late-{user_id}@Example.com"
    with stack.stream_batch_fails("NormalizeOperatorFunction"):  # its first attempt and every retry
        console.put("OPERATORS_TABLE", {"user_id": user_id, "email": f"  {email} ", "active": True, "name": "Late"})
    assert "email_key" not in (console.get("OPERATORS_TABLE", {"user_id": user_id}) or {})
    # When a call's enrichment returns that email
    dialog = stack.process(_enriched_channel(console), _call(demo, email=email.lower(), line="online"))
    # Then it is still assigned (the lookup falls back to a scan when the index finds nothing)
    assert dialog.operator_id == user_id, dialog.assignment


def test_an_operator_whose_derived_keys_were_never_written_gets_them_on_a_dlq_redrive(
        stack: StackClient, console: Console, cli: Cli) -> None:
    url = stack.stack.outputs["OperatorNormalizeFailuresQueue"]
    sqs = stack.stack.client("sqs")
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Given a console-written operator whose stream batch failed every attempt
    user_id = _user_id()
    with stack.stream_batch_fails("NormalizeOperatorFunction"):
        console.put("OPERATORS_TABLE", {"user_id": user_id, "email": " Redo@Example.com", "ext": 42, "name": "R"})
    assert "email_key" not in (console.get("OPERATORS_TABLE", {"user_id": user_id}) or {})
    # Then the failed batch is in its queue, and `dlq list` names it
    (listing,) = cli.json("dlq", "list", "--queue", "normalize-operator")
    (letter,) = listing["messages"]
    assert letter["source"] == "stream" and stack.env["OPERATORS_TABLE"] in letter["subject"]
    # When the admin redrives it
    (report,) = cli.json("dlq", "redrive", "--queue", "normalize-operator")
    # Then the operator has its derived keys, and the queue is empty
    assert report["failed"] == [] and len(report["redriven"]) == 1
    item = console.get("OPERATORS_TABLE", {"user_id": user_id}) or {}
    assert (item.get("email_key"), item.get("ext_key")) == ("redo@example.com", "42")
    assert cli.json("dlq", "list", "--queue", "normalize-operator")[0]["depth"] == 0


def test_an_invalid_operator_item_is_skipped_with_a_warning_and_listed_as_invalid(
        stack: StackClient, console: Console, demo: FakePBX, cli: Cli) -> None:
    # Given two operators with one email: the lower user_id written with a typo in the console
    broken_id = _user_id()
    email = f"shared-{broken_id}@example.com"
    console.put("OPERATORS_TABLE", {"user_id": broken_id, "email": email, "active": "maybe", "name": "Typo"})
    console.put("OPERATORS_TABLE", {"user_id": broken_id + 1, "email": email, "active": True, "name": "Fine"})
    channel = _enriched_channel(console)
    # When a call reaches them
    dialog = stack.process(channel, _call(demo, email=email, line="online"))
    # Then the workflow succeeded, the valid operator was assigned and the attempt names the skipped item
    assert stack.wait_execution(dialog.dialog_id)["status"] == "SUCCEEDED"
    assert dialog.operator_id == broken_id + 1
    [attempt] = dialog.assignment.attempts
    skipped = (attempt.model_extra or {})["invalid_operators"]
    assert skipped == [{"user_id": str(broken_id), "problems": skipped[0]["problems"]}]
    assert "active" in skipped[0]["problems"]
    # And a call that reaches only the invalid item is not assigned, says why, and does not fail
    console.put("OPERATORS_TABLE", {"user_id": broken_id + 1, "email": "moved@example.com", "active": True})
    alone = stack.process(channel, _call(demo, email=email, line="online"))
    assert stack.wait_execution(alone.dialog_id)["status"] == "SUCCEEDED"
    assert alone.operator_id is None and alone.assignment.reason is not None
    assert alone.assignment.reason.code == "operator_invalid"
    # And `operator list` lists every operator, marking the invalid one instead of failing
    listed = {str(o["user_id"]): o for o in cli.json("operator", "list")}
    assert listed[str(broken_id)]["invalid"] is True
    assert any(p["path"] == "active" for p in listed[str(broken_id)]["problems"])
    assert listed["17"]["email"] == "ann@example.com"
    shown = cli.run("operator", "list")
    assert shown.exit_code == 0 and "INVALID" in shown.stdout
    for user_id in (broken_id, broken_id + 1):
        console.delete("OPERATORS_TABLE", {"user_id": user_id})


def test_operator_written_with_the_cli_with_a_numeric_extension_matches_too(
        stack: StackClient, cli: Cli, console: Console, demo: FakePBX, tmp_path: Any) -> None:
    # Given the same kind of operator written with the CLI from a file (ext a number)
    user_id = _user_id()
    ext = int(str(user_id)[-5:] + "9")
    path = tmp_path / "op.json"
    path.write_text(json.dumps({"user_id": user_id, "email": f" CLI-{user_id}@Example.com", "ext": ext}))
    assert cli.run("operator", "put", str(path)).exit_code == 0
    # When calls carry the email (other case) or the extension
    by_email = stack.process(_enriched_channel(console), _call(demo, email=f"cli-{user_id}@example.COM"))
    by_ext = stack.process(_enriched_channel(console, action_id=""), {"id": unique("call"), "agent_ext": str(ext)})
    # Then both are assigned
    assert by_email.operator_id == user_id and by_ext.operator_id == user_id


# ------------------------------------------------------------------------------------------------------- topics
def test_the_contracts_topic_put_raw_is_set(stack: StackClient, console: Console, demo: FakePBX) -> None:
    # Given the contract's topic exactly, and one with an attribute the admin added in the console
    console.put("TOPICS_TABLE", CONTRACT_TOPIC)
    noted = unique("topic")
    console.put("TOPICS_TABLE", {"alias": noted, "name": "Noted", "note": "added by hand"})
    channel = _enriched_channel(console)
    # When actions return them
    online = stack.process(channel, _call(demo, email="ann@example.com", line="online"))
    other = stack.process(channel, _call(demo, email="ann@example.com", line=noted))
    # Then both topics are set
    assert online.topic == "online"
    assert other.topic == noted


# ------------------------------------------------------------------------------------------------------ actions
def test_the_contracts_action_put_raw_enriches_the_call(stack: StackClient, console: Console, demo: FakePBX) -> None:
    # Given the contract's action shape put raw (numbers as N, the secret as an SSM reference)
    action_id = unique("console-action")
    console.put("ACTIONS_TABLE", {
        "action_id": action_id, "type": "http", "params": {"base_url": demo.url},
        "secrets": {"api_key": f"ssm:{DEMO_SECRET_NAME}"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}, "timeout_s": 5},
        "result": {"operator_email": "data.agent.email", "topic": "data.line"},
        "allow_private_network": True})
    channel = _enriched_channel(console, action_id=action_id)
    # When
    dialog = stack.process(channel, _call(demo, email=" ANN@example.com", line="online"))
    # Then
    assert dialog.enrichment.status == "ok", dialog.enrichment
    assert dialog.operator_id == 17 and dialog.topic == "online"


# ----------------------------------------------------------------------------------------------------- channels
def test_the_contracts_channel_put_raw_takes_calls(stack: StackClient, console: Console, demo: FakePBX) -> None:
    # Given the contract's channel item (its mapping, accept_when, update_when null), token-authenticated
    channel = {"channel_id": unique("contract"), "name": "Main telephony", "active": True,
               "webhook_token": uuid.uuid4().hex, "webhook_enrich_action": "pbx-operator-lookup",
               "enrich_error_action": "do_not_assign", "auto_transcription": True,
               "advanced_config": {
                   "field_mapping": {"call_id": "CallSid", "caller": "From", "callee": "To",
                                     "direction": "Direction", "duration": "CallDuration",
                                     "recording_url": "RecordingUrl"},
                   "accept_when": "CallStatus == 'completed'", "update_when": None}}
    channel["webhook_enrich_action"] = ""  # empty: enrichment disabled (docs/items.md)
    console.put("CHANNELS_TABLE", channel)
    call_sid = unique("CA")
    # When a Twilio-style form arrives, and one the condition ignores
    answer = stack.post(channel, form={"CallSid": call_sid, "From": "+12025550143", "To": "+12025550100",
                                       "Direction": "inbound", "CallDuration": "42", "CallStatus": "completed"})
    ignored = stack.post(channel, form={"CallSid": unique("CA"), "CallStatus": "ringing"})
    # Then
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
    assert ignored.json()["status"] == "ignored"
    stack.wait_execution(answer.json()["dialog_id"])
    dialog = stack.dialog(answer.json()["dialog_id"])
    assert dialog is not None
    assert dialog.telephony.duration == 42 and dialog.telephony.direction == "inbound"
    assert dialog.enrichment.status == "disabled"


# ----------------------------------------------------------------------------------------------------- settings
@pytest.fixture
def default_operator_setting(console: Console) -> Iterator[None]:
    before = console.get("SETTINGS_TABLE", {"key": DEFAULT_OPERATOR_SETTING})
    yield
    if before is None:
        console.delete("SETTINGS_TABLE", {"key": DEFAULT_OPERATOR_SETTING})
    else:
        console.put("SETTINGS_TABLE", before)


@pytest.mark.parametrize("value", [18, "18", " 18 "])
def test_the_default_operator_setting_put_raw_as_a_number_or_a_string_is_used(
        stack: StackClient, console: Console, demo: FakePBX, default_operator_setting: None, value: Any) -> None:
    # Given the instance setting put raw, and a channel that assigns the admin when enrichment fails
    console.put("SETTINGS_TABLE", {"key": DEFAULT_OPERATOR_SETTING, "value": value})
    channel = _enriched_channel(console, enrich_error_action="assign_admin")
    # When enrichment fails (the PBX does not know the call)
    dialog = stack.process(channel, {"id": unique("unknown-call")})
    # Then the setting's operator is assigned
    assert dialog.enrichment.status == "failed"
    assert dialog.operator_id == 18 and dialog.assignment.source == "default_operator"


# ------------------------------------------------------------------------------------- the check at save time
def _json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


BROKEN_CHANNEL_FIELDS = ["advanced_config.accept_when", "advanced_config.field_mapping.caller"]


def _check_logs(caplog: pytest.LogCaptureFixture, item_id: str) -> list[dict[str, Any]]:
    """The CheckConfig function's "invalid" log records for one item, with their structured keys."""
    return [vars(r) for r in caplog.records if r.getMessage() == "configuration item invalid"
            and getattr(r, "item_id", None) == item_id]


def test_an_invalid_channel_put_raw_is_logged_with_every_invalid_field_and_counted(
        stack: StackClient, console: Console, cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    # Given an admin saves a channel with two typos in the console
    channel_id = unique("broken")
    console.put("CHANNELS_TABLE", {"channel_id": channel_id, "webhook_token": uuid.uuid4().hex, "advanced_config": {
        "field_mapping": {"call_id": "id", "caller": "call.from[["}, "accept_when": "nosuchfn(a)"}})
    # Then the stream-triggered check logged the item with every invalid field path, and counted it
    [log] = _check_logs(caplog, channel_id)
    assert log["kind"] == "channel" and log["levelname"] == "ERROR"
    assert sorted(log["invalid_fields"]) == BROKEN_CHANNEL_FIELDS
    assert any("unknown function nosuchfn()" in p for p in log["problems"])
    lines = _json_lines(function_output(caplog))  # Powertools prints its metrics (EMF) to the function's stdout
    [metric] = [line for line in lines if "InvalidConfigItem" in line and "_aws" in line]
    assert metric["InvalidConfigItem"] in (1, 1.0, [1.0])
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Callhook"
    # And `channel check` prints one line per invalid field path and exits 1
    checked = cli.run("channel", "check", channel_id)
    assert checked.exit_code == 1
    for path in BROKEN_CHANNEL_FIELDS:
        assert f"channel {channel_id}: {path}: " in checked.stdout
    assert channel_id in checked.error
    as_json = cli.run("--json", "channel", "check", channel_id)
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["invalid"] == 1
    assert sorted(p["path"] for p in report["items"][0]["problems"]) == BROKEN_CHANNEL_FIELDS
    # And checking every channel names it too, and `channel list` marks it instead of failing
    every = cli.run("channel", "check")
    assert every.exit_code == 1 and f"channel {channel_id}: advanced_config.accept_when" in every.stdout
    valid = _enriched_channel(console)
    listed = {c["channel_id"]: c for c in cli.json("channel", "list")}
    assert sorted(p["path"] for p in listed[channel_id]["problems"]) == BROKEN_CHANNEL_FIELDS
    assert "problems" not in listed[valid["channel_id"]]
    shown = cli.run("channel", "list")
    assert shown.exit_code == 0 and "INVALID" in shown.stdout
    # When the admin fixes it in the console, the check passes and logs no error
    caplog.clear()
    console.put("CHANNELS_TABLE", {"channel_id": channel_id, "webhook_token": uuid.uuid4().hex, "advanced_config": {
        "field_mapping": {"call_id": "id", "caller": "call.from"}}})
    assert _check_logs(caplog, channel_id) == []
    fixed = cli.run("channel", "check", channel_id)
    assert fixed.exit_code == 0 and f"channel {channel_id}: ok" in fixed.stdout


def test_the_cli_refuses_the_same_typos_at_save_naming_the_field(cli: Cli, tmp_path: Any) -> None:
    # Given the same typos in a file for `channel put`
    path = tmp_path / "channel.json"
    path.write_text(json.dumps({"channel_id": unique("cli-broken"), "advanced_config": {
        "field_mapping": {"call_id": "id", "caller": "call.from[["}, "accept_when": "nosuchfn(a)"}}))
    # When / Then: refused, every path named, nothing saved
    outcome = cli.run("channel", "put", str(path))
    for field in BROKEN_CHANNEL_FIELDS:
        assert field in outcome.error
    assert "unknown function nosuchfn()" in outcome.error


def test_an_invalid_action_put_raw_is_logged_and_action_check_exits_1(
        stack: StackClient, console: Console, cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    # Given an action saved in the console with a result expression calling an unknown function
    action_id = unique("broken-action")
    console.put("ACTIONS_TABLE", {"action_id": action_id, "type": "http",
                                  "request": {"url": "https://pbx.example.com/{telephony.call_id}"},
                                  "result": {"operator_email": "nosuchfn(data)"}, "secrets": {"k": "ssm:"}})
    # Then the check logged both invalid fields
    [log] = _check_logs(caplog, action_id)
    assert log["kind"] == "action"
    assert sorted(log["invalid_fields"]) == ["result.operator_email", "secrets.k"]
    # And `action check` says the same and exits 1; `action list` marks it
    checked = cli.run("action", "check", action_id)
    assert checked.exit_code == 1
    assert f"action {action_id}: result.operator_email: " in checked.stdout
    assert f"action {action_id}: secrets.k: " in checked.stdout
    listed = {a["action_id"]: a for a in cli.json("action", "list")}
    assert {p["path"] for p in listed[action_id]["problems"]} == {"result.operator_email", "secrets.k"}
    assert cli.run("action", "check", "demo-pbx-lookup").exit_code == 0
    assert "no action" in cli.run("action", "check", unique("missing")).error


# ------------------------------------------------------------------------------------ what the deployed roles may reach
OUTSIDE_PREFIX = "is not one Enrich may invoke: the stack grants lambda:InvokeFunction on functions named " \
                 "callhook-action-* only"
OUTSIDE_PATH = "is outside what the stack may read"


def test_a_lambda_action_outside_the_granted_prefix_is_refused_by_the_cli_and_flagged_when_put_raw(
        stack: StackClient, console: Console, cli: Cli, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    item = {"action_id": unique("fn-action"), "type": "lambda", "function_name": "crm-lookup",
            "result": {"operator_email": "agent.email"}}
    # When the admin saves it with the CLI: refused in one line naming the rule, nothing saved
    refused = cli.run("action", "put", str(_write(tmp_path / "a.json", item)))
    assert refused.exit_code == 1
    assert "function_name" in refused.error and OUTSIDE_PREFIX in " ".join(refused.error.split())
    assert len(refused.error.strip().splitlines()) == 1
    assert console.get("ACTIONS_TABLE", {"action_id": item["action_id"]}) is None
    # When the admin saves it raw in the console
    console.put("ACTIONS_TABLE", item)
    # Then the save-time check (the actions table's stream) logged it with the rule, and `action check` names it
    [log] = _check_logs(caplog, item["action_id"])
    assert log["invalid_fields"] == ["function_name"]
    assert any(OUTSIDE_PREFIX in p for p in log["problems"])
    checked = cli.run("action", "check", item["action_id"])
    assert checked.exit_code == 1
    shown = " ".join(checked.stdout.split())  # the terminal wraps long lines
    assert f"action {item['action_id']}: function_name: " in shown and OUTSIDE_PREFIX in shown


def test_secrets_outside_the_granted_path_are_refused_by_the_cli_and_flagged_when_put_raw(
        stack: StackClient, console: Console, cli: Cli, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Given an action reading a secret outside callhook/, and a channel whose signature secret is outside /callhook/
    action = {"action_id": unique("secret-action"), "type": "http", "secrets": {"k": "secretsmanager:crm/key"},
              "request": {"url": "https://pbx.example.com/{telephony.call_id}?k={secrets.k}"},
              "result": {"operator_email": "data.email"}}
    channel = {"channel_id": unique("secret-channel"), "webhook_token": uuid.uuid4().hex,
               "signature": {"scheme": "twilio", "secret": "ssm:/twilio/auth-token"},
               "advanced_config": {"field_mapping": {"call_id": "id"}}}
    # When saved with the CLI: each refused naming the rule
    for kind, item in (("action", action), ("channel", channel)):
        refused = cli.run(kind, "put", str(_write(tmp_path / f"{kind}.json", item)))
        assert refused.exit_code == 1 and OUTSIDE_PATH in refused.error, refused.error
    # When saved raw in the console: the stream's check and `check` name the field and the rule
    console.put("ACTIONS_TABLE", action)
    console.put("CHANNELS_TABLE", channel)
    [action_log] = _check_logs(caplog, action["action_id"])
    [channel_log] = _check_logs(caplog, channel["channel_id"])
    assert action_log["invalid_fields"] == ["secrets.k"]
    assert channel_log["invalid_fields"] == ["signature"]
    action_check = cli.run("action", "check", action["action_id"])
    channel_check = cli.run("channel", "check", channel["channel_id"])
    assert action_check.exit_code == channel_check.exit_code == 1
    assert "Secrets Manager secrets named callhook/... only" in " ".join(action_check.stdout.split())
    assert "Parameter Store parameters under /callhook/ only" in " ".join(channel_check.stdout.split())


def _write(path: Any, item: dict[str, Any]) -> Any:
    path.write_text(json.dumps(item))
    return path
