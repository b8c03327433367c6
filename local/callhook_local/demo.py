"""The demo configuration of `make run`: a channel, operators, topics and an action calling the fake PBX."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from callhook_admin.services.config import put_action, put_channel, put_operator, put_topic
from callhook_local.fake_pbx import FakePBX
from callhook_local.stack import ACCOUNT, REGION, LocalStack
from callhook_local.template import ROOT

DEMO_CHANNEL = "demo"
DEMO_TOKEN = "demo-token-change-me-0001"
DEMO_SECRET_NAME = "/callhook/demo/pbx-api-key"
DEMO_SECRET_VALUE = "demo-pbx-key-0123456789"

DEMO_CHANNEL_ITEM: dict[str, Any] = {
    "channel_id": DEMO_CHANNEL,
    "name": "Demo PBX",
    "active": True,
    "webhook_token": DEMO_TOKEN,
    "webhook_enrich_action": "demo-pbx-lookup",
    "enrich_error_action": "assign_admin",
    "auto_transcription": True,
    "allow_private_network": True,
    "advanced_config": {
        "field_mapping": {
            "call_id": "call.id", "direction": "call.direction", "caller": "call.from", "callee": "call.to",
            "started_at": "to_iso(call.started)", "duration": "call.duration", "status": "call.status",
            "recording_url": "call.recording_url",
        },
        "accept_when": "call.status == 'completed' || call.status == 'recording'",
        "update_when": "call.status == 'recording'",
        "default_region": "US",
    },
}

DEMO_CALL: dict[str, Any] = {"call": {"id": "demo-call-1", "direction": "in", "from": "(202) 555-0143",
                                      "to": "+1 202 555 0100", "started": 1795567823, "duration": "00:01:05",
                                      "status": "completed"}}
# The demo call's recording: speech made with flite (tests/fixtures/audio/README.md), served by the fake PBX and
# transcribed by the local stack's faster-whisper engine behind the Transcribe API.
DEMO_RECORDING = "demo-call-1.wav"
DEMO_RECORDING_FILE = ROOT / "tests" / "fixtures" / "audio" / "call-16k.wav"


def demo_call(pbx_url: str) -> dict[str, Any]:
    """DEMO_CALL with its recording_url on the fake PBX."""
    return {"call": {**DEMO_CALL["call"], "recording_url": f"{pbx_url}/recordings/{DEMO_RECORDING}"}}


def seed_demo(stack: LocalStack, pbx: FakePBX) -> None:
    env = stack.env
    stack.client("ssm").put_parameter(Name=DEMO_SECRET_NAME, Value=DEMO_SECRET_VALUE, Type="SecureString",
                                      Overwrite=True)
    put_operator(env["OPERATORS_TABLE"], {"user_id": 1, "email": "root@callhook.local", "name": "Root admin"})
    put_operator(env["OPERATORS_TABLE"], {"user_id": 17, "email": "ann@example.com", "name": "Ann", "ext": "101"})
    put_operator(env["OPERATORS_TABLE"], {"user_id": 18, "email": "bob@example.com", "name": "Bob", "ext": "102",
                                          "active": False})
    put_topic(env["TOPICS_TABLE"], {"alias": "online", "name": "Online calls"})
    put_topic(env["TOPICS_TABLE"], {"alias": "offline", "name": "Offline calls"})
    put_action(env["ACTIONS_TABLE"], {
        "action_id": "demo-pbx-lookup", "type": "http", "description": "Operator email and line from the demo PBX",
        "params": {"base_url": pbx.url}, "secrets": {"api_key": f"ssm:{DEMO_SECRET_NAME}"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}, "timeout_s": 5},
        "result": {"operator_email": "data.agent.email", "topic": "data.line"},
        "allow_private_network": True,
    })
    put_channel(env["CHANNELS_TABLE"], DEMO_CHANNEL_ITEM)
    pbx.set_call("demo-call-1", email="  Ann@Example.com ", line="online")
    pbx.add_recording(DEMO_RECORDING, DEMO_RECORDING_FILE.read_bytes())


def demo_curl(api_url: str, pbx_url: str | None = None) -> str:
    """The curl `make run` prints; the fake PBX is where `__main__` starts it (CALLHOOK_PBX_PORT, default 8085)."""
    pbx_url = pbx_url or f"http://127.0.0.1:{os.environ.get('CALLHOOK_PBX_PORT', '8085')}"
    body = json.dumps(demo_call(pbx_url))
    return (f"curl -s -X POST '{api_url}/webhooks/{DEMO_CHANNEL}' -H 'X-Webhook-Token: {DEMO_TOKEN}' "
            f"-H 'Content-Type: application/json' -d '{body}'")


def venv_program(name: str) -> str:
    """How to run one of the venv's programs from here: the bare name when PATH finds this venv's (activated),
    else its path (`.venv/bin/callhook` from the repository), so that a printed command runs as pasted."""
    path = Path(sys.executable).parent / name
    found = shutil.which(name)
    if found and Path(found).resolve() == path.resolve():
        return name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return shlex.quote(str(path))


def banner(stack: LocalStack, pbx_url: str) -> str:
    """What `make run` prints once the stack is up: every command in it runs as pasted in another terminal."""
    target = ([f"CALLHOOK_AWS_PORT={stack.aws_port}"] if stack.aws_port != 5000 else []) + [venv_program("callhook")]
    target += ["--local"] + (["--stack", stack.name] if stack.name != "callhook-local" else [])
    # The AWS CLI needs a region and some credentials even for moto, which takes any.
    aws = (f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local {venv_program('aws')} --region {REGION} "
           f"--endpoint-url {stack.endpoint}")
    state_machine = stack.outputs["StateMachineArn"]
    return f"""
callhook local stack is up.
  webhook API      {stack.api_url}/webhooks/{{channel_id}}
  AWS endpoint     {stack.endpoint}   (region {REGION}, account {ACCOUNT}, any credentials)
  fake PBX         {pbx_url}
  demo channel     {DEMO_CHANNEL}

Everything lives in this process's memory: stopping it loses every dialog and item; the next start seeds the demo
configuration again.

Send a call:
  {demo_curl(stack.api_url, pbx_url)}

Then look at it:
  {" ".join(target)} dialog find --channel {DEMO_CHANNEL} --call-id demo-call-1
  {aws} stepfunctions list-executions --state-machine-arn {state_machine}

Ctrl-C stops.
"""
