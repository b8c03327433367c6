"""callhook_local.fake_pbx: the fake external telephony system behaves as the tests and the demo expect."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from callhook_local.fake_pbx import DEFAULT_API_KEY, FakePBX, start_fake_pbx

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture
def fake_pbx() -> Iterator[FakePBX]:
    with start_fake_pbx() as pbx:
        yield pbx


def test_fake_pbx_answers_a_known_call_with_its_agent_and_line(fake_pbx: FakePBX) -> None:
    # Given
    fake_pbx.set_call("c-1", email="ann@example.com", line="online", duration=42)
    # When
    answer = requests.get(f"{fake_pbx.url}/calls/c-1", headers=AUTH, timeout=5)
    # Then
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"id": "c-1", "agent": {"email": "ann@example.com"}, "line": "online", "duration": 42}
    }
    assert fake_pbx.requests[0].headers["Authorization"] == AUTH["Authorization"]


def test_fake_pbx_refuses_a_wrong_key_and_answers_unknown_calls_by_default_or_404() -> None:
    # Given a fake with a default answer for unknown calls
    with start_fake_pbx(api_key="k", default_call={"email": "root@example.com"}) as pbx:
        # When
        wrong = requests.get(f"{pbx.url}/calls/x", headers={"Authorization": "Bearer nope"}, timeout=5)
        default = requests.get(f"{pbx.url}/calls/x", headers={"Authorization": "Bearer k"}, timeout=5)
        pbx.set_default_call()
        missing = requests.get(f"{pbx.url}/calls/x", headers={"Authorization": "Bearer k"}, timeout=5)
    # Then
    assert wrong.status_code == 401
    assert default.json()["data"]["agent"]["email"] == "root@example.com"
    assert missing.status_code == 404


def test_fake_pbx_fails_n_times_then_succeeds_for_one_call_only(fake_pbx: FakePBX) -> None:
    # Given
    fake_pbx.set_call("c-1", email="ann@example.com")
    fake_pbx.set_call("c-2", email="bob@example.com")
    fake_pbx.set_behaviour("c-1", fail_times=2, fail_status=502)
    # When
    statuses = [requests.get(f"{fake_pbx.url}/calls/c-1", headers=AUTH, timeout=5).status_code for _ in range(3)]
    other = requests.get(f"{fake_pbx.url}/calls/c-2", headers=AUTH, timeout=5).status_code
    # Then
    assert statuses == [502, 502, 200]
    assert other == 200


def test_fake_pbx_control_endpoint_changes_behaviour_and_serves_recordings(fake_pbx: FakePBX) -> None:
    # Given behaviour and a recording set over HTTP, as the demo does
    control = f"{fake_pbx.url}/control"
    requests.post(control, json={"op": "set_call", "call_id": "c-1", "email": "ann@example.com"}, timeout=5)
    requests.post(control, json={"op": "set_behaviour", "call_id": "c-1", "preset": "unknown_topic"}, timeout=5)
    requests.post(
        control,
        json={
            "op": "add_recording",
            "name": "r.mp3",
            "content_type": "audio/mpeg",
            "data_base64": base64.b64encode(b"ID3data").decode(),
        },
        timeout=5,
    )
    bad = requests.post(control, json={"op": "explode"}, timeout=5)
    # When
    call = requests.get(f"{fake_pbx.url}/calls/c-1", headers=AUTH, timeout=5)
    recording = requests.get(f"{fake_pbx.url}/recordings/r.mp3", timeout=5)
    # Then
    assert call.json()["data"]["line"] == "no-such-topic"
    assert (recording.content, recording.headers["Content-Type"]) == (b"ID3data", "audio/mpeg")
    assert bad.status_code == 400
    assert [r.path for r in fake_pbx.requests] == ["/calls/c-1", "/recordings/r.mp3"]


def test_fake_pbx_redirects_and_answers_garbage_when_told(fake_pbx: FakePBX) -> None:
    # Given
    fake_pbx.set_behaviour("c-1", redirect_to="http://elsewhere.example/x")
    fake_pbx.set_behaviour("c-2", garbage=True)
    fake_pbx.set_call("c-2", email="ann@example.com")
    # When
    redirect = requests.get(f"{fake_pbx.url}/calls/c-1", headers=AUTH, timeout=5, allow_redirects=False)
    garbage = requests.get(f"{fake_pbx.url}/calls/c-2", headers=AUTH, timeout=5)
    # Then
    assert (redirect.status_code, redirect.headers["Location"]) == (302, "http://elsewhere.example/x")
    with pytest.raises(requests.JSONDecodeError):
        garbage.json()


def test_fake_pbx_runs_from_the_command_line() -> None:
    # Given the module started as the demo starts it
    process = subprocess.Popen(
        [sys.executable, "-m", "callhook_local.fake_pbx", "--port", "0", "--default-email", "ann@example.com"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # When
        banner = process.stdout.readline() if process.stdout else ""
        url = banner.split(" listening on ")[1].split()[0]
        answer = requests.get(f"{url}/calls/any", headers=AUTH, timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()
    # Then
    assert answer.json()["data"]["agent"]["email"] == "ann@example.com"
