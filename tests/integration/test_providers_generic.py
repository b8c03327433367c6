"""The generic schemes (standard-webhooks, hmac-sha256) and the answer override, through the local stack."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.providers import canonical, send, settled_telephony, stored_nothing
from tests.support.stack import StackClient

MAPPING = {"call_id": "data.call.id", "caller": "data.call.from", "callee": "data.call.to",
           "direction": "data.call.direction", "duration": "data.call.duration", "started_at": "data.call.started_at"}
SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-32byt").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the-previous-key-being-rotated!!").decode()


def _event(call_id: str) -> bytes:
    return json.dumps({"type": "call.ended", "timestamp": "2026-11-25T10:00:42Z", "data": {"call": {
        "id": call_id, "from": "+14158675309", "to": "+12125551234", "direction": "inbound", "duration": 40,
        "started_at": "2026-11-25T10:00:02Z"}}}).encode()


def _sw_headers(body: bytes, secrets: list[str], *, age: timedelta = timedelta()) -> dict[str, str]:
    msg_id, moment = f"msg_{uuid.uuid4().hex}", datetime.now(tz=UTC) - age
    signatures = " ".join(Webhook(secret).sign(msg_id, moment, body.decode()) for secret in secrets)
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signatures}


def test_standard_webhooks_signed_event_is_accepted_during_key_rotation(stack: StackClient) -> None:
    # Given a channel on the new secret; the sender signs with the old and the new one
    ch = stack.channel(advanced_config={"field_mapping": MAPPING},
                       signature={"scheme": "standard-webhooks", "secret": SECRET})
    body = _event("sw-1")
    # When
    resp = send(stack, ch, body, _sw_headers(body, [OLD_SECRET, SECRET]))
    # Then
    assert resp.status_code == 200, resp.text
    assert canonical(settled_telephony(stack, ch, "sw-1")) == {
        "call_id": "sw-1", "direction": "inbound", "caller": "+14158675309", "callee": "+12125551234",
        "started_at": "2026-11-25T10:00:02Z", "duration": 40, "status": None, "recording_url": None,
        "operator_email": None, "operator_ext": None}


def test_standard_webhooks_refuses_old_signatures_and_other_keys(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"field_mapping": MAPPING},
                       signature={"scheme": "standard-webhooks", "secret": SECRET})
    body = _event("sw-2")
    answers = [send(stack, ch, body, _sw_headers(body, [OLD_SECRET])),
               send(stack, ch, body, _sw_headers(body, [SECRET], age=timedelta(minutes=6)))]
    assert [a.status_code for a in answers] == [401, 401]
    assert "No matching signature" in answers[0].json()["message"]
    assert "too old" in answers[1].json()["message"]
    assert stored_nothing(stack, ch)


def test_standard_webhooks_secret_pasted_as_a_signature_in_ssm_gets_a_clear_503(stack: StackClient,
                                                                                 caplog: pytest.LogCaptureFixture,
                                                                                 ) -> None:
    # Given the admin stored "v1,whsec_..." in Parameter Store (channel validation cannot see inside SSM)
    name = f"/callhook/test/sw-{uuid.uuid4().hex[:8]}"
    stack.stack.client("ssm").put_parameter(Name=name, Value=f"v1,{SECRET}", Type="SecureString")
    ch = stack.channel(advanced_config={"field_mapping": MAPPING},
                       signature={"scheme": "standard-webhooks", "secret": f"ssm:{name}"})
    body = _event("sw-3")
    # When
    resp = send(stack, ch, body, _sw_headers(body, [SECRET]))
    # Then the provider retries later and the admin reads what to fix, in the log: the caller may be anyone, so
    # the answer names no detail of the configuration
    assert resp.status_code == 503, resp.text
    assert "looks like a signature" not in resp.text
    assert any("looks like a signature" in str(r.__dict__) for r in caplog.records)
    assert stored_nothing(stack, ch)


def test_hmac_sha256_generic_scheme_and_an_answer_override(stack: StackClient) -> None:
    # Given a channel with a GitHub-style header and a provider that wants its own success body
    ch = stack.channel(advanced_config={"field_mapping": MAPPING, "answer": {"ok": True}},
                       signature={"scheme": "hmac-sha256", "secret": "k3y", "header": "X-Hub-Signature-256",
                                  "prefix": "sha256="})
    body = _event("hm-1")
    good = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    # When
    resp = send(stack, ch, body, {"Content-Type": "application/json", "X-Hub-Signature-256": good})
    bad = send(stack, ch, body + b" ", {"Content-Type": "application/json", "X-Hub-Signature-256": good})
    # Then the 200 answer keeps docs/webhook-api.md's keys and adds the override; errors are untouched
    assert resp.status_code == 200, resp.text
    assert (resp.json()["ok"], resp.json()["status"], bool(resp.json()["dialog_id"])) == (True, "accepted", True)
    assert bad.status_code == 401
    assert "ok" not in bad.json()
