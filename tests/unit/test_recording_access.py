"""Which credentials a recording download sends: the channel's, to the hosts it names, over https."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.models.channel import Channel, effective_channel
from callhook.services.recordings import recording_access
from tests.support.fakes import FakeSecrets

SECRETS = FakeSecrets(default="tok-123")


def _channel(**item: Any) -> Channel:
    return effective_channel(Channel.model_validate({"channel_id": "ch-1", "webhook_token": "t" * 24, **item}))


TWILIO = {"advanced_config": {"preset": "twilio"},
          "recording_auth": {"type": "basic", "username": "AC1", "password": "ssm:/callhook/twilio/token"}}
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3"


def test_the_presets_host_over_https_gets_the_credentials() -> None:
    access = recording_access(RECORDING, _channel(**TWILIO), SECRETS)
    assert access.auth == ("AC1", "tok-123")
    assert access.warning is None


@pytest.mark.parametrize(("url", "says"), [
    ("https://evil.example/r.mp3", "evil.example is not in recording_auth.hosts ['api.twilio.com']"),
    ("https://api.twilio.com.evil.example/r.mp3", "is not in recording_auth.hosts"),
    ("https://evil.example/?u=https://api.twilio.com/r.mp3", "is not in recording_auth.hosts"),
    ("http://api.twilio.com/2010-04-01/r.mp3", "credentials are sent over https only"),
    ("not a url", "(no host) is not in recording_auth.hosts"),
])
def test_any_other_url_gets_none_and_the_warning_says_why(url: str, says: str) -> None:
    access = recording_access(url, _channel(**TWILIO), SECRETS)
    assert (access.auth, access.headers) == (None, {})
    assert access.warning is not None
    assert access.warning.code == "recording_credentials_withheld"
    assert says in access.warning.message


def test_a_header_credential_is_bound_the_same_way() -> None:
    channel = _channel(recording_auth={"type": "header", "header": "X-Media-Key", "value": "ssm:/callhook/k",
                                       "hosts": ["media.example.com"]})
    assert recording_access("https://media.example.com/r.wav", channel, SECRETS).headers == {"X-Media-Key": "tok-123"}
    assert recording_access("https://other.example.com/r.wav", channel, SECRETS).headers == {}


def test_plain_http_to_a_local_address_is_the_local_stacks_case() -> None:
    channel = _channel(recording_auth={"type": "bearer", "token": "ssm:/callhook/k", "hosts": ["127.0.0.1"]})
    access = recording_access("http://127.0.0.1:8080/r.wav", channel, SECRETS)
    assert access.headers == {"Authorization": "Bearer tok-123"}


def test_a_channel_without_recording_auth_sends_nothing_and_warns_of_nothing() -> None:
    access = recording_access("http://anything.example/r.wav", _channel(), SECRETS)
    assert (access.auth, access.headers, access.warning) == (None, {}, None)


# Hosts that contain, end with or start with a listed one, and are not it: the credentials never go there.
LOOK_ALIKES = ["evilapi.twilio.com", "api.twilio.com.evil.com", "xapi.twilio.com", "api.twilio.co", "twilio.com",
               "api-twilio.com", "api.twilio.comm", "eu1.api.twilio.com"]


@pytest.mark.parametrize("host", LOOK_ALIKES)
def test_credentials_never_go_to_a_look_alike_host(host: str) -> None:
    channel = _channel(**TWILIO)
    assert channel.recording_auth is not None and not channel.recording_auth.sends_to(host)
    access = recording_access(f"https://{host}/2010-04-01/Accounts/AC1/Recordings/RE1.mp3", channel, SECRETS)
    assert (access.auth, access.headers) == (None, {})
    assert access.warning is not None and f"{host} is not in recording_auth.hosts" in access.warning.message


@pytest.mark.parametrize("host", ["api.twilio.com", "API.Twilio.com", "api.twilio.com."])
def test_the_listed_host_itself_gets_them_in_any_case_and_with_a_root_dot(host: str) -> None:
    access = recording_access(f"https://{host}/2010-04-01/Accounts/AC1/Recordings/RE1.mp3", _channel(**TWILIO),
                              SECRETS)
    assert access.auth == ("AC1", "tok-123")
