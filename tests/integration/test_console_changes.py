"""A channel item or its signature secret changed in the console applies to the next request: a new token or
secret is accepted at once, a replaced or deactivated one is refused within 10 seconds. Items are written raw
(`put_item` of the JSON, as the DynamoDB console does) and secrets with `put_parameter --overwrite`; requests go
over HTTP to the local stack's webhook API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from callhook.aws import to_item
from tests.support.stack import StackClient, unique

REFUSED_WITHIN_S = 10
MAPPING = {"call_id": "id"}


def _url(stack: StackClient, channel_id: str) -> str:
    return f"{stack.stack.api_url}/webhooks/{channel_id}"


def send(stack: StackClient, channel_id: str, token: str | None = None, signed_with: str | None = None) -> int:
    body = json.dumps({"id": unique("call")}).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Webhook-Token"] = token
    if signed_with is not None:
        headers["X-Signature"] = hmac.new(signed_with.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(_url(stack, channel_id), data=body, headers=headers, timeout=30).status_code


def console_put(stack: StackClient, item: dict[str, Any]) -> None:
    stack.stack.client("dynamodb").put_item(TableName=stack.env["CHANNELS_TABLE"], Item=to_item(item))


def seconds_until(status: int, attempt: Callable[[], int], limit: float = 20) -> float:
    """How long, from now, until `attempt()` answers `status` (polled every 0.5 s)."""
    started = time.monotonic()
    while True:
        got = attempt()
        if got == status:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"still {got} after {limit}s"
        time.sleep(0.5)


def raw_channel(**fields: Any) -> dict[str, Any]:
    return {"channel_id": unique("ch"), "name": "console", "active": True, "webhook_token": uuid.uuid4().hex,
            "advanced_config": {"field_mapping": MAPPING}, **fields}


def test_a_token_rotated_in_the_console_is_accepted_at_once_and_the_old_one_refused_within_10s(
        stack: StackClient) -> None:
    # Given a channel whose item the ingest sandboxes have cached (requests with its token were accepted)
    channel = raw_channel()
    console_put(stack, channel)
    old = channel["webhook_token"]
    assert [send(stack, channel["channel_id"], old) for _ in range(3)] == [200] * 3
    # When the admin pastes the provider's new token into the item
    new = uuid.uuid4().hex
    console_put(stack, {**channel, "webhook_token": new})
    # Then the provider's next request, with the new token, is accepted (most providers never resend a 401)
    assert send(stack, channel["channel_id"], new) == 200
    # and the old (possibly leaked) token is refused within 10 s, for good
    assert seconds_until(401, lambda: send(stack, channel["channel_id"], old)) < REFUSED_WITHIN_S
    assert [send(stack, channel["channel_id"], old) for _ in range(3)] == [401] * 3
    assert send(stack, channel["channel_id"], new) == 200


def test_a_replaced_token_is_refused_within_10s_even_when_the_new_one_is_not_used(stack: StackClient) -> None:
    # Given a cached channel
    channel = raw_channel()
    console_put(stack, channel)
    assert send(stack, channel["channel_id"], channel["webhook_token"]) == 200
    # When the token is replaced and only the old one keeps coming (an attacker who saw it)
    replaced_at = time.monotonic()
    console_put(stack, {**channel, "webhook_token": uuid.uuid4().hex})
    seconds_until(401, lambda: send(stack, channel["channel_id"], channel["webhook_token"]))
    # Then
    assert time.monotonic() - replaced_at < REFUSED_WITHIN_S


def test_a_channel_deactivated_in_the_console_is_refused_within_10s_and_reactivated_at_once(
        stack: StackClient) -> None:
    # Given a cached, active channel
    channel = raw_channel()
    console_put(stack, channel)
    token = channel["webhook_token"]
    assert send(stack, channel["channel_id"], token) == 200
    # When the admin sets active to false
    deactivated_at = time.monotonic()
    console_put(stack, {**channel, "active": False})
    seconds_until(403, lambda: send(stack, channel["channel_id"], token))
    # Then it is refused within 10 s
    assert time.monotonic() - deactivated_at < REFUSED_WITHIN_S
    # and once active again, the very next request is accepted
    console_put(stack, channel)
    assert send(stack, channel["channel_id"], token) == 200


def test_a_channel_created_after_a_404_is_accepted_at_once(stack: StackClient) -> None:
    # Given a provider already sending to a channel id the admin has not saved yet (the sandbox remembers the 404)
    channel = raw_channel()
    assert send(stack, channel["channel_id"], channel["webhook_token"]) == 404
    # When the admin saves the item
    console_put(stack, channel)
    # Then the next request is accepted
    assert send(stack, channel["channel_id"], channel["webhook_token"]) == 200


def test_a_signature_secret_rotated_in_parameter_store_applies_like_a_token(stack: StackClient) -> None:
    # Given a channel whose signature secret lives in Parameter Store, cached by the sandboxes
    ssm = stack.stack.client("ssm")
    name = f"/callhook/test/{uuid.uuid4().hex}"
    ssm.put_parameter(Name=name, Value="first-secret", Type="SecureString")
    channel = raw_channel(signature={"scheme": "hmac-sha256", "secret": f"ssm:{name}"})
    console_put(stack, channel)
    assert [send(stack, channel["channel_id"], signed_with="first-secret") for _ in range(2)] == [200] * 2
    # When the admin rotates the parameter
    rotated_at = time.monotonic()
    ssm.put_parameter(Name=name, Value="second-secret", Type="SecureString", Overwrite=True)
    # Then a request signed with the new secret is accepted at once, and the old secret is refused within 10 s
    assert send(stack, channel["channel_id"], signed_with="second-secret") == 200
    seconds_until(401, lambda: send(stack, channel["channel_id"], signed_with="first-secret"))
    assert time.monotonic() - rotated_at < REFUSED_WITHIN_S
