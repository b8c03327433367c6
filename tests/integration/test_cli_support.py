"""Helpers of the CLI tests (no tests here): drive `callhook` through its real entry point.

In process, `typer.testing.CliRunner` invokes the app with `--local`, `CALLHOOK_AWS_PORT` and `CALLHOOK_STACK` set
to the session's local stack, exactly as a person runs it against `make run`. A few tests run the installed console
script (`.venv/bin/callhook`) in a subprocess: those that point the CLI at another endpoint or stack, which must not
change the environment of this process (the local stack's functions run in it).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from callhook.models.dialog import Dialog
from callhook_admin.services.config import put_action, put_operator, put_topic
from callhook_cli.main import app
from callhook_local.stack import LocalStack
from tests.support.stack import StackClient

ROOT = Path(__file__).resolve().parents[2]
CALLHOOK = Path(sys.executable).parent / "callhook"


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.exit_code == 0, f"exit {self.exit_code}: {self.stderr}"
        return json.loads(self.stdout)

    @property
    def error(self) -> str:
        """The one-line reason of a failure (asserting it is one line, and no traceback anywhere)."""
        assert self.exit_code != 0, self.stdout
        assert "Traceback" not in self.stdout + self.stderr
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("Error: "), lines[0]
        return lines[0]


class Cli:
    """`callhook --local ...` against the session's local stack."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        kwargs = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}
        self.runner = CliRunner(**kwargs)
        self.env = {"CALLHOOK_AWS_PORT": str(stack.aws_port), "CALLHOOK_STACK": stack.name}

    def run(self, *args: str, local: bool = True, input: str | None = None) -> Outcome:
        argv = ["--local", *args] if local else list(args)
        result = self.runner.invoke(app, argv, env=self.env, input=input, catch_exceptions=False)
        return Outcome(result.exit_code, _without_metrics(result.stdout), result.stderr)

    def json(self, *args: str) -> Any:
        return self.run("--json", *args).json()


def _without_metrics(stdout: str) -> str:
    """The local stack's functions run in this process and print their metrics (EMF lines) with print(): while
    CliRunner holds sys.stdout, a background execution's lines land in the command's output. Drop them."""
    return "".join(line for line in stdout.splitlines(keepends=True) if not line.startswith('{"_aws":'))


def run_script(*args: str, env: dict[str, str], cwd: Path | None = None) -> Outcome:
    """The installed console script in a subprocess, with exactly `env` (plus PATH/HOME)."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    proc = subprocess.run([str(CALLHOOK), *args], env=base | env, cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


@dataclass
class Directory:
    """Operators, a topic and an enrich action (reading the fake PBX) of one test, all with unique names."""

    ann_id: int
    ann_email: str
    bob_id: int  # inactive
    bob_email: str
    topic: str
    action_id: str
    secret_name: str
    secret_value: str


def seed_directory(stack: LocalStack, pbx_url: str, pbx_key: str) -> Directory:
    tag = uuid.uuid4().hex[:8]
    base = 200_000 + uuid.uuid4().int % 700_000
    directory = Directory(ann_id=base, ann_email=f"ann-{tag}@example.com", bob_id=base + 1,
                          bob_email=f"bob-{tag}@example.com", topic=f"online-{tag}", action_id=f"lookup-{tag}",
                          secret_name=f"/callhook/test/{tag}/pbx-key", secret_value=pbx_key)
    env = stack.env
    put_operator(env["OPERATORS_TABLE"], {"user_id": directory.ann_id, "email": directory.ann_email, "name": "Ann"})
    put_operator(env["OPERATORS_TABLE"], {"user_id": directory.bob_id, "email": directory.bob_email, "name": "Bob",
                                          "active": False})
    put_topic(env["TOPICS_TABLE"], {"alias": directory.topic, "name": "Online calls"})
    stack.client("ssm").put_parameter(Name=directory.secret_name, Value=pbx_key, Type="SecureString", Overwrite=True)
    put_action(env["ACTIONS_TABLE"], {
        "action_id": directory.action_id, "params": {"base_url": pbx_url},
        "secrets": {"api_key": f"ssm:{directory.secret_name}"},
        "request": {"url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email", "topic": "data.line"}, "allow_private_network": True})
    return directory


def settle(stack: StackClient, channel: dict[str, Any], body: dict[str, Any], timeout: float = 30) -> Dialog:
    """POST a JSON call and wait until enrichment, assignment and topic are decided (what `explain` reads); the
    transcription that may follow is not waited for."""
    resp = stack.post(channel, json_body=body)
    assert resp.status_code == 200, resp.text
    dialog_id = resp.json()["dialog_id"]
    deadline = time.monotonic() + timeout
    while True:
        dialog = stack.dialog(dialog_id)
        assert dialog is not None
        decided = (dialog.assignment.status != "pending" and dialog.topic_resolution.status != "pending"
                   and dialog.enrichment.status != "pending")
        if decided or dialog.workflow.status == "failed":
            return dialog
        assert time.monotonic() < deadline, f"dialog {dialog_id} still undecided after {timeout}s"
        time.sleep(0.05)
