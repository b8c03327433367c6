"""`callhook dialog get|find|list|replay`, `events list|replay` and `execution history` against the local stack."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from callhook.errors import DialogNotFoundError
from callhook.models.dialog import make_dialog_id
from callhook_local import invoker
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli, Directory, seed_directory, write_json
from tests.support.stack import StackClient, unique

MAPPING = {"call_id": "CallSid", "caller": "From", "callee": "To", "status": "CallStatus"}


def call(call_id: str, **extra: str) -> dict[str, str]:
    return {"CallSid": call_id, "From": "+12025550143", "To": "+12025550100", "CallStatus": "completed", **extra}


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture(scope="module")
def directory(stack: StackClient, pbx: FakePBX) -> Directory:
    return seed_directory(stack.stack, pbx.url, str(pbx.api_key))


@contextlib.contextmanager
def assign_fails_for(stack: StackClient, dialog_id: str) -> Iterator[None]:
    """The AssignOperator task raises a terminal error for this dialog only (the local stack's fault switch)."""
    name = stack.stack.physical("AssignFunction")

    def fault(event: Any) -> None:
        payload = json.loads(event) if isinstance(event, str | bytes) else event or {}
        if payload.get("dialog_id") == dialog_id:
            raise DialogNotFoundError("operators table unreadable (fault switch)")

    invoker.REGISTRY.faults[name] = fault
    try:
        yield
    finally:
        invoker.REGISTRY.faults.pop(name, None)


def failed_dialog(stack: StackClient, pbx: FakePBX, directory: Directory) -> str:
    """A dialog whose Enrich succeeds on its second attempt and whose AssignOperator then fails for good."""
    channel = stack.channel(webhook_enrich_action=directory.action_id, advanced_config={"field_mapping": MAPPING})
    call_id = unique("hist")
    pbx.set_call(call_id, email=directory.ann_email, line=directory.topic)
    pbx.set_behaviour(call_id, fail_times=1)  # 503 once: DependencyUnavailableError, retried
    dialog_id = make_dialog_id(channel["channel_id"], call_id)
    with assign_fails_for(stack, dialog_id):
        resp = stack.post(channel, json_body=call(call_id))
        assert resp.json()["dialog_id"] == dialog_id
        assert stack.wait_execution(dialog_id)["status"] == "FAILED"
    return dialog_id


# ------------------------------------------------------------------------------------------------------------ dialogs
def test_dialog_get_shows_the_turns_with_their_roles_and_redaction_marks(cli: Cli, stack: StackClient) -> None:
    # Given a dialog whose transcription an admin wrote raw in the DynamoDB console: a redacted stereo transcript
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    dialog_id = stack.post(channel, json_body=call(unique("turns"))).json()["dialog_id"]
    stack.wait_execution(dialog_id)
    transcription = json.loads('''{"status": "completed", "language": "en-US", "redaction": ["ALL"],
        "roles": {"0": "agent", "1": "customer"}, "text": "How can I help? My card is [PII].",
        "turns": [{"speaker": "ch_0", "role": "agent", "start_s": 0.5, "end_s": 1.5, "text": "How can I help?"},
                  {"speaker": "ch_1", "role": "customer", "start_s": 2.25, "end_s": 4.0,
                   "text": "My card is [PII]."}]}''', parse_float=Decimal)
    boto3.resource("dynamodb", endpoint_url=stack.stack.endpoint, region_name="us-east-1").Table(
        stack.env["DIALOGS_TABLE"]).update_item(Key={"dialog_id": dialog_id},
                                                UpdateExpression="SET transcription = :t",
                                                ExpressionAttributeValues={":t": transcription})
    # When
    shown = cli.run("dialog", "get", dialog_id)
    # Then after the JSON, the transcript turn by turn: when, who, what, and what was redacted
    assert shown.exit_code == 0, shown.stderr
    table = shown.stdout[shown.stdout.index("Transcript (PII redacted: ALL)"):]
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in table.splitlines() if line.startswith("│")]
    assert rows == [["0.5s", "agent", "How can I help?"], ["2.2s", "customer", "My card is [PII]."]]
    # And --json has the same turns, roles included
    assert cli.json("dialog", "get", dialog_id)["transcription"]["turns"][1]["role"] == "customer"


def test_dialog_find_get_and_list_newest_first_in_pages(cli: Cli, stack: StackClient) -> None:
    # Given three calls on a channel
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    channel_id = channel["channel_id"]
    for n in (1, 2, 3):
        assert stack.post(channel, json_body=call(f"list-{n}")).status_code == 200
    # When / Then: find derives the dialog id from channel and call id, get prints the same dialog
    found = cli.json("dialog", "find", "--channel", channel_id, "--call-id", "list-2")
    assert found["dialog_id"] == make_dialog_id(channel_id, "list-2")
    assert found["telephony"]["caller"] == "+12025550143"
    for key in ("mapping_warnings", "operator_id", "topic", "enrichment", "assignment", "transcription", "feed",
                "execution_arn"):
        assert key in found
    assert cli.json("dialog", "get", found["dialog_id"])["call_id"] == "list-2"
    # And list pages through the index, newest first
    first = cli.json("dialog", "list", "--channel", channel_id, "--limit", "2")
    assert [d["call_id"] for d in first["items"]] == ["list-3", "list-2"]
    second = cli.json("dialog", "list", "--channel", channel_id, "--limit", "2", "--next", first["next"])
    assert [d["call_id"] for d in second["items"]] == ["list-1"]
    assert len(cli.json("dialog", "list", "--channel", channel_id, "--since", "1h")["items"]) == 3
    assert cli.json("dialog", "list", "--channel", channel_id, "--until", "2000-01-01")["items"] == []
    table = cli.run("dialog", "list", "--channel", channel_id)
    assert table.exit_code == 0
    assert "list-3" in table.stdout


def test_execution_history_shows_each_state_with_retries_errors_and_causes(
        cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory) -> None:
    # Given an execution with a retried Enrich and a failed AssignOperator
    dialog_id = failed_dialog(stack, pbx, directory)
    # When
    history = cli.json("execution", "history", dialog_id)
    # Then
    [execution] = history["executions"]
    assert execution["name"] == dialog_id
    assert execution["status"] == "FAILED"
    assert execution["error"] == "WorkflowStepFailed"
    states = {s["name"]: s for s in execution["states"]}
    assert [s["name"] for s in execution["states"]] == [
        "BeginWorkflow", "EnrichmentConfigured?", "Enrich", "AssignOperator", "RecordWorkflowFailure", "StepFailed"]
    enrich = states["Enrich"]
    assert enrich["outcome"] == "succeeded"
    assert enrich["retries"] == 1
    assert [a["outcome"] for a in enrich["attempts"]] == ["failed", "succeeded"]
    assert enrich["attempts"][0]["error"] == "DependencyUnavailableError"
    # the history keeps no request or response data (it outlives an erasure): the cause says where the detail is
    assert "answered 503" not in enrich["attempts"][0]["cause"]
    assert "enrichment.error" in enrich["attempts"][0]["cause"]
    assign = states["AssignOperator"]
    assert assign["outcome"] == "caught"
    assert assign["attempts"][-1]["error"] == "DialogNotFoundError"
    assert assign["attempts"][-1]["cause"] == "operators table unreadable (fault switch)"
    assert states["StepFailed"]["outcome"] == "failed"
    offsets = [s["offset_ms"] for s in execution["states"]]
    assert offsets == sorted(offsets)
    # And people get the same as a timeline
    timeline = cli.run("execution", "history", dialog_id)
    assert timeline.exit_code == 0, timeline.stderr
    assert "2 (1 retried)" in timeline.stdout
    assert "DialogNotFoundError: operators table unreadable" in timeline.stdout


def test_dialog_replay_starts_a_new_execution_for_the_same_dialog(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                                  directory: Directory) -> None:
    # Given a dialog whose execution failed
    dialog_id = failed_dialog(stack, pbx, directory)
    # When it is replayed while the fault is still there, waiting for the end
    with assign_fails_for(stack, dialog_id):
        waited = cli.run("--json", "dialog", "replay", dialog_id, "--wait", "--timeout", "60")
    # Then a new execution ran for the same dialog, and the failure is the one-line reason
    assert json.loads(waited.stdout)["execution_name"] == f"{dialog_id}-r1"
    assert f"execution {dialog_id}-r1 ended FAILED" in waited.error
    # When it is replayed again (the external system now slow, so the execution is still running a moment later)
    call_id = stack.dialog(dialog_id).call_id  # type: ignore[union-attr]
    pbx.set_behaviour(call_id, delay_s=3)
    replay = cli.json("dialog", "replay", dialog_id)
    refused = cli.run("dialog", "replay", dialog_id)
    # Then
    assert replay["replay"] == 2
    assert replay["execution_name"] == f"{dialog_id}-r2"
    assert stack.dialog(dialog_id).execution_arn == replay["execution_arn"]  # type: ignore[union-attr]
    assert f"execution {dialog_id}-r2 of dialog {dialog_id} is still running" in refused.error
    names = [e["name"] for e in cli.json("execution", "history", dialog_id)["executions"]]
    assert names == [dialog_id, f"{dialog_id}-r1", f"{dialog_id}-r2"]


# ------------------------------------------------------------------------------------------------------------- events
def _cli_channel(cli: Cli, tmp_path: Path, **item: Any) -> tuple[str, str]:
    """A channel created with the CLI; returns its id and token."""
    channel_id = unique("ev")
    cli.json("channel", "put", write_json(tmp_path / f"{channel_id}.json", {"channel_id": channel_id, **item}))
    return channel_id, cli.json("--show-secrets", "channel", "get", channel_id)["webhook_token"]


def test_events_list_shows_a_rejected_call_and_replay_makes_it_a_dialog_after_the_fix(
        cli: Cli, stack: StackClient, tmp_path: Path) -> None:
    # Given a provider that sends `CallId` while the channel's mapping reads `CallSid`
    channel_id, token = _cli_channel(cli, tmp_path, advanced_config={"field_mapping": MAPPING})
    resp = stack.post({"channel_id": channel_id, "webhook_token": token}, json_body={"CallId": "ev-1", "From": "1"})
    assert resp.status_code == 422
    # When
    [event] = cli.json("events", "list", "--channel", channel_id)["items"]
    # Then the rejected event is listed with its reason
    assert (event["kind"], event["reason"], event["status_code"]) == ("rejected", "missing_call_id", 422)
    assert "CallSid" in event["message"]
    # When the admin fixes the mapping and replays the event
    fixed = cli.json("channel", "get", channel_id)
    fixed["advanced_config"]["field_mapping"]["call_id"] = "CallId"
    cli.json("channel", "put", write_json(tmp_path / "fixed.json", fixed))
    replayed = cli.json("events", "replay", event["event_id"])
    # Then it became the call's dialog, and the event says so
    dialog_id = make_dialog_id(channel_id, "ev-1")
    assert replayed == {"event_id": event["event_id"], "channel_id": channel_id, "outcome": "accepted",
                        "dialog_id": dialog_id, "reason": None, "message": None, "status_code": None}
    assert cli.json("dialog", "get", dialog_id)["telephony"]["call_id"] == "ev-1"
    [after] = cli.json("events", "list", "--channel", channel_id)["items"]
    assert (after["kind"], after["dialog_id"]) == ("replayed", dialog_id)
    # And replaying again is harmless: the same dialog, as a duplicate
    assert cli.json("events", "replay", event["event_id"])["outcome"] == "duplicate"


def test_events_replay_of_an_event_still_rejected_fails_with_the_reason(cli: Cli, stack: StackClient,
                                                                       tmp_path: Path) -> None:
    # Given a rejected event and no fix
    channel_id, token = _cli_channel(cli, tmp_path, advanced_config={"field_mapping": MAPPING})
    stack.post({"channel_id": channel_id, "webhook_token": token}, json_body={"CallId": "ev-2"})
    [event] = cli.json("events", "list", "--channel", channel_id)["items"]
    # When
    outcome = cli.run("events", "replay", event["event_id"])
    # Then
    assert f"event {event['event_id']} is still rejected: missing_call_id" in outcome.error
    [still] = cli.json("events", "list", "--channel", channel_id)["items"]
    assert still["kind"] == "rejected"


def test_events_replay_all_turns_a_channels_rejected_calls_into_dialogs(cli: Cli, stack: StackClient,
                                                                        tmp_path: Path) -> None:
    # Given three calls refused because the channel was inactive (403: kept)
    channel_id, token = _cli_channel(cli, tmp_path, active=False, advanced_config={"field_mapping": MAPPING})
    for n in (1, 2, 3):
        resp = stack.post({"channel_id": channel_id, "webhook_token": token}, json_body=call(f"all-{n}"))
        assert resp.status_code == 403
    # When the admin activates the channel and replays them all
    item = cli.json("channel", "get", channel_id) | {"active": True}
    cli.json("channel", "put", write_json(tmp_path / "active.json", item))
    outcome = cli.run("events", "replay", "--all", "--channel", channel_id)
    # Then each is a dialog now
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.count("accepted") == 3
    events = cli.json("events", "list", "--channel", channel_id)["items"]
    assert sorted(e["dialog_id"] for e in events) == sorted(make_dialog_id(channel_id, f"all-{n}") for n in (1, 2, 3))
    assert {e["kind"] for e in events} == {"replayed"}
    # And a second --all has nothing left to replay
    assert cli.json("events", "replay", "--all", "--channel", channel_id) == []


@pytest.mark.parametrize("args", [("events", "replay"), ("events", "replay", "--all"),
                                  ("events", "replay", "e-1", "--all", "--channel", "c")])
def test_events_replay_needs_one_event_or_all_of_a_channel(cli: Cli, args: tuple[str, ...]) -> None:
    outcome = cli.run(*args)
    assert outcome.exit_code == 2
    assert "--all" in outcome.error


def test_events_list_masks_credentials_an_older_version_kept(cli: Cli, stack: StackClient) -> None:
    # Given a raw event stored before credentials were stripped at authentication (a RingCentral verification token
    # header, a token in the query)
    from callhook.models.event import RawEvent, RawEventKind, StoredRequest
    from callhook.repositories.events import EventRepository

    channel_id = unique("legacy")
    request = StoredRequest(method="GET", url="https://h.example/webhooks/x?token=tok-123&CallSid=CA1",
                            headers={"verification-token": "vt-secret", "user-agent": "rc"},
                            raw_query="token=tok-123&CallSid=CA1")
    EventRepository(stack.env["EVENTS_TABLE"]).put(RawEvent(
        event_id=unique("e"), channel_id=channel_id, received_at="2026-12-01T00:00:00.000000Z",
        kind=RawEventKind.REJECTED, reason="missing_call_id", request=request))
    # When ops list the channel's events
    [masked] = cli.json("events", "list", "--channel", channel_id)["items"]
    [shown] = cli.json("--show-secrets", "events", "list", "--channel", channel_id)["items"]
    # Then the secrets are printed only when asked for
    assert "vt-secret" not in json.dumps(masked) and "tok-123" not in json.dumps(masked)
    assert masked["request"]["headers"]["user-agent"] == "rc"
    assert "CallSid=CA1" in masked["request"]["raw_query"]
    assert shown["request"]["headers"]["verification-token"] == "vt-secret"
