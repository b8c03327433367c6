"""Helpers for tests that run against the local stack: send webhooks over real HTTP, wait for executions."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import requests

from callhook.models.dialog import Dialog, make_dialog_id
from callhook.repositories.dialogs import DialogRepository
from callhook_admin.services.config import put_channel
from callhook_local.faults import lambda_fails
from callhook_local.stack import LocalStack

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class StackClient:
    """What a provider and an ops person do against the local stack, in test-sized steps."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.env = stack.env
        self.sfn = stack.client("stepfunctions")
        self.http = requests.Session()

    @property
    def state_machine_arn(self) -> str:
        return self.stack.outputs["StateMachineArn"]

    def channel(self, **overrides: Any) -> dict[str, Any]:
        """A fresh channel (its own id, so tests never share calls) with a JSON mapping of canonical names."""
        item: dict[str, Any] = {"channel_id": unique("ch"), "name": "test", "webhook_token": uuid.uuid4().hex}
        item.update(overrides)
        put_channel(self.env["CHANNELS_TABLE"], item)
        return item

    def post(self, channel: dict[str, Any] | str, *, json_body: Any = None, form: Any = None,
             data: bytes | str | None = None, headers: dict[str, str] | None = None,
             token: str | None = "from-channel", params: dict[str, str] | None = None) -> requests.Response:
        channel_id = channel if isinstance(channel, str) else channel["channel_id"]
        hdrs = dict(headers or {})
        if token == "from-channel" and not isinstance(channel, str):
            hdrs.setdefault("X-Webhook-Token", channel["webhook_token"])
        elif token not in (None, "from-channel"):
            hdrs["X-Webhook-Token"] = token
        url = f"{self.stack.api_url}/webhooks/{channel_id}"
        if json_body is not None:
            return self.http.post(url, json=json_body, headers=hdrs, params=params, timeout=30)
        return self.http.post(url, data=form if form is not None else data, headers=hdrs, params=params, timeout=30)

    def get(self, channel: dict[str, Any], params: dict[str, str]) -> requests.Response:
        return self.http.get(f"{self.stack.api_url}/webhooks/{channel['channel_id']}",
                             params={**params, "token": channel["webhook_token"]}, timeout=30)

    def dialog(self, dialog_id: str) -> Dialog | None:
        return DialogRepository(self.env["DIALOGS_TABLE"]).get(dialog_id)

    def dialog_for(self, channel: dict[str, Any], call_id: str) -> Dialog | None:
        return self.dialog(make_dialog_id(channel["channel_id"], call_id))

    def wait_dialog(self, dialog_id: str, until: Callable[[Dialog], bool], timeout: float = 30,
                    what: str = "") -> Dialog:
        """The dialog once `until(dialog)` holds: what an asynchronous step (the recording copy, which Lambda runs
        after the invoke that asked for it has answered) writes later."""
        deadline = time.monotonic() + timeout
        while True:
            dialog = self.dialog(dialog_id)
            if dialog is not None and until(dialog):
                return dialog
            if time.monotonic() > deadline:
                raise AssertionError(f"dialog {dialog_id} not {what or until} after {timeout}s: {dialog!r}")
            time.sleep(0.05)

    def wait_recording(self, dialog_id: str, *statuses: str, timeout: float = 30) -> Dialog:
        """The dialog once its recording's status is one of `statuses` (any status but pending if none given)."""
        def settled(dialog: Dialog) -> bool:
            status = dialog.recording.status if dialog.recording is not None else None
            return status in statuses if statuses else status not in (None, "pending")
        return self.wait_dialog(dialog_id, settled, timeout, f"recording {' or '.join(statuses) or 'settled'}")

    @contextlib.contextmanager
    def recording_copy_fails(self, dialog_id: str, message: str = "fault switch") -> Iterator[Any]:
        """KeepRecording fails every invocation for `dialog_id` inside the block (the asynchronous request, Lambda's
        two retries, any repeated request; other dialogs' copies are untouched); the block ends once those
        invocations are over (nothing queued or running), so the failures, dead letters included, are all in."""
        with lambda_fails(self.stack.physical("KeepRecordingFunction"), times=1000, message=message,
                          when=lambda event: isinstance(event, dict) and event.get("dialog_id") == dialog_id) as lost:
            yield lost
            assert self.stack.async_invokes is not None and self.stack.async_invokes.wait_idle(30)

    def stream_attempts(self, function_logical: str) -> int:
        """How many times a stream batch reaches the function before its event source gives up: the first
        delivery and MaximumRetryAttempts retries (template.yaml; the local stack applies them)."""
        from callhook_local.template import load_template

        events = load_template(self.stack.template_path)["Resources"][function_logical]["Properties"]["Events"]
        (retries,) = {int(e["Properties"]["MaximumRetryAttempts"]) for e in events.values() if e["Type"] == "DynamoDB"}
        return 1 + retries

    @contextlib.contextmanager
    def stream_batch_fails(self, function_logical: str, **kwargs: Any) -> Iterator[Any]:
        """The stream consumer fails the next batch on every attempt, so that its event source gives up on it."""
        attempts = self.stream_attempts(function_logical)
        with lambda_fails(self.stack.physical(function_logical), times=attempts, **kwargs) as lost:
            yield lost
        assert lost.hits == attempts, (lost.hits, attempts)

    def executions_of(self, dialog_id: str) -> list[dict[str, Any]]:
        found = []
        for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn):
            found += [e for e in page["executions"] if e["name"].startswith(dialog_id)]
        return found

    def wait_execution(self, dialog_id: str, timeout: float = 30) -> dict[str, Any]:
        """The dialog's execution once terminal (moto runs it in a background thread)."""
        arn = self.dialog(dialog_id).execution_arn  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while True:
            desc = self.sfn.describe_execution(executionArn=arn)
            if desc["status"] in TERMINAL:
                return desc
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {arn} still {desc['status']} after {timeout}s")
            time.sleep(0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events

    def states_entered(self, execution_arn: str) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(execution_arn)
                if "stateEnteredEventDetails" in e]

    def process(self, channel: dict[str, Any], body: dict[str, Any]) -> Dialog:
        """POST a JSON call, wait for its workflow, return the final dialog."""
        resp = self.post(channel, json_body=body)
        assert resp.status_code == 200, resp.text
        dialog_id = resp.json()["dialog_id"]
        self.wait_execution(dialog_id)
        dialog = self.dialog(dialog_id)
        assert dialog is not None
        return dialog


def function_output(caplog: Any) -> str:
    """What the functions wrote (their stdout/stderr lines and REPORT lines) during the test, one line each: the
    records of the `callhook_local.functions.<name>` loggers (sandbox.py), which pytest's caplog keeps per test."""
    return "".join(f"{r.getMessage()}\n" for r in caplog.records if r.name.startswith("callhook_local.functions."))


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)


def reconcile(client: StackClient, older_than_s: float = 0, recordings_older_than_s: float = 3600) -> dict[str, Any]:
    """Run the scheduled reconciler now (through Lambda, as its schedule does) and return its report."""
    options = {"older_than_s": older_than_s, "recordings_older_than_s": recordings_older_than_s}
    resp = client.stack.client("lambda").invoke(FunctionName=f"{client.stack.name}-ReconcileFunction",
                                                Payload=json.dumps(options).encode())
    assert "FunctionError" not in resp, resp["Payload"].read()
    return dict(json.loads(resp["Payload"].read()))
