"""The demo configuration of `make run`: a channel, operators, topics and an action calling the fake PBX."""

from __future__ import annotations

import json
import os
from typing import Any

from callhook_admin.services.config import put_action, put_channel, put_operator, put_topic
from callhook_local.fake_pbx import FakePBX
from callhook_local.stack import LocalStack
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
