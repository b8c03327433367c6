"""Presets: the catalog is valid, the merge with a channel goes field by field, handshakes answer only URL checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callhook.models.api import WebhookRequest
from callhook.models.channel import Channel, effective_channel
from callhook.presets import get_preset, list_presets, preset_names
from callhook.services.handshakes import handshake_answer
from functions.ingest.app import request_url

REQUIRED = {"twilio", "aircall", "telnyx", "vonage", "plivo", "exotel", "zadarma", "dialpad", "ringcentral", "mango",
            "binotel", "sipuni", "bitrix24"}


def _channel(**item: Any) -> Channel:
    return Channel.model_validate({"channel_id": "ch-1", "webhook_token": "t" * 24, **item})


def _request(raw_query: str = "", body: bytes = b"", headers: dict[str, str] | None = None,
             method: str = "GET") -> WebhookRequest:
    return WebhookRequest(channel_id="ch-1", method=method, url=f"https://x.example/webhooks/ch-1?{raw_query}",
                          headers=headers or {}, raw_query=raw_query, body=body)


def test_catalog_has_every_required_provider_with_setup_instructions() -> None:
    # Then
    assert set(preset_names()) >= REQUIRED
    for preset in list_presets():
        assert preset.docs_url.startswith("https://"), preset.name
        assert all((preset.what_to_paste, preset.events_to_enable, preset.arrives)), preset.name
        assert "call_id" in preset.advanced_config["field_mapping"], preset.name


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_preset_makes_a_valid_channel(name: str) -> None:
    # Given a channel naming the preset, with the secret when the provider signs
    preset = get_preset(name)
    assert preset is not None
    item: dict[str, Any] = {"advanced_config": {"preset": name}}
    if preset.signature:
        item["signature"] = {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    # When
    channel = effective_channel(_channel(**item))
    # Then the preset's mapping, conditions and scheme are in force
    assert channel.advanced_config.field_mapping == preset.advanced_config["field_mapping"]
    assert channel.advanced_config.accept_when == preset.advanced_config.get("accept_when")
    assert channel.advanced_config.handshake == preset.handshake
    assert channel.advanced_config.answer == preset.answer
    if preset.signature:
        assert channel.signature is not None
        assert channel.signature.scheme == preset.signature["scheme"]


def test_admin_fields_override_the_preset_field_by_field() -> None:
    # Given a Twilio channel that changes one mapping, switches one off, and sets its own accept_when and answer
    channel = _channel(advanced_config={
        "preset": "twilio", "field_mapping": {"caller": "Caller", "started_at": "`null`"},
        "accept_when": "CallStatus == 'completed'", "answer": {"ok": True}, "timezone": "Europe/Berlin"},
        signature={"secret": "tok", "extra_option": "kept"})
    # When
    merged = effective_channel(channel)
    # Then
    mapping = merged.advanced_config.field_mapping
    assert (mapping["caller"], mapping["started_at"]) == ("Caller", "`null`")
    assert mapping["callee"] == "To"  # from the preset
    assert merged.advanced_config.accept_when == "CallStatus == 'completed'"
    assert merged.advanced_config.update_when == "RecordingStatus != null"  # from the preset
    assert merged.advanced_config.answer == {"ok": True}
    assert merged.advanced_config.timezone == "Europe/Berlin"
    assert merged.signature is not None
    assert (merged.signature.scheme, merged.signature.secret) == ("twilio", "tok")
    assert merged.signature.model_extra == {"extra_option": "kept"}


def test_admin_signature_with_another_scheme_replaces_the_presets() -> None:
    channel = _channel(advanced_config={"preset": "aircall"},
                       signature={"scheme": "hmac-sha256", "secret": "k", "header": "x-sig"})
    merged = effective_channel(channel)
    assert merged.signature is not None
    assert merged.signature.model_dump(exclude_none=True) == {"scheme": "hmac-sha256", "secret": "k",
                                                              "header": "x-sig"}


def test_without_a_signature_the_token_applies_even_for_a_signing_preset() -> None:
    assert effective_channel(_channel(advanced_config={"preset": "twilio"})).signature is None


def test_secret_for_a_preset_that_does_not_sign_needs_a_scheme() -> None:
    # The channel model itself runs the merge: such an item is refused when it is saved, not on its first webhook
    with pytest.raises(ValidationError, match="does not sign"):
        _channel(advanced_config={"preset": "exotel"}, signature={"secret": "x"})


def test_unknown_preset_and_schemeless_signature_fail_channel_validation() -> None:
    with pytest.raises(ValidationError, match="unknown preset 'twillio'"):
        _channel(advanced_config={"preset": "twillio"})
    with pytest.raises(ValidationError, match=r"signature\.scheme is required"):
        _channel(signature={"secret": "x"})


# ----------------------------------------------------------------------------------------------- handshakes


def test_zadarma_echo_is_answered_only_for_a_bare_url_check() -> None:
    channel = effective_channel(_channel(advanced_config={"preset": "zadarma"}))
    # When / Then: the check itself, with or without our token in the URL
    answer = handshake_answer(channel, _request("zd_echo=a1b2c3"))
    assert answer is not None
    assert (answer.body, answer.content_type.split(";")[0]) == ("a1b2c3", "text/plain")
    assert handshake_answer(channel, _request("token=abc&zd_echo=a1b2c3")) is not None
    # anything carrying data is a webhook, authenticated as usual
    assert handshake_answer(channel, _request("zd_echo=a1&pbx_call_id=x")) is None
    assert handshake_answer(channel, _request("zd_echo=a1", body=b"event=NOTIFY_END", method="POST")) is None
    assert handshake_answer(channel, _request("zd_echo=<script>")) is None
    assert handshake_answer(_channel(), _request("zd_echo=a1b2c3")) is None


def test_ringcentral_validation_token_is_echoed_as_a_header() -> None:
    channel = effective_channel(_channel(advanced_config={"preset": "ringcentral"}))
    answer = handshake_answer(channel, _request(headers={"validation-token": "vt-123"}, method="POST"))
    assert answer is not None
    assert (answer.headers, answer.body) == ({"Validation-Token": "vt-123"}, "")
    assert handshake_answer(channel, _request(headers={"validation-token": "vt-1"}, body=b"{}", method="POST")) \
        is None


# -------------------------------------------------------------------------------------------- URL rebuilding


@pytest.mark.parametrize(("headers", "domain", "stage", "path", "expected"), [
    ({"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-proto": "https", "x-forwarded-port": "443"},
     "abc.execute-api.eu-west-1.amazonaws.com", "$default", "/webhooks/ch",
     "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/ch?x=1"),
    ({"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-proto": "https"},
     "abc.execute-api.eu-west-1.amazonaws.com", "prod", "/prod/webhooks/ch",
     "https://abc.execute-api.eu-west-1.amazonaws.com/prod/webhooks/ch?x=1"),
    ({"host": "hooks.example.com", "x-forwarded-proto": "https"}, "hooks.example.com", "prod", "/prod/webhooks/ch",
     "https://hooks.example.com/webhooks/ch?x=1"),
    # X-Forwarded-Host is the client's word: a signature made for another host must not pass here
    ({"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-host": "calls.example.com, proxy.internal",
      "x-forwarded-proto": "https, http"}, "abc.execute-api.eu-west-1.amazonaws.com", "$default", "/webhooks/ch",
     "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/ch?x=1"),
    ({"host": "127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-port": "3000"}, None, "$default",
     "/webhooks/ch", "http://127.0.0.1:3000/webhooks/ch?x=1"),
])
def test_request_url_is_the_url_the_provider_called(headers: dict[str, str], domain: str | None, stage: str,
                                                    path: str, expected: str) -> None:
    assert request_url(headers, domain, stage, path, "x=1") == expected


def test_docs_table_lists_every_preset() -> None:
    # Given the providers page the README links to
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "PROVIDERS.md").read_text(encoding="utf-8")
    # Then every preset has its row
    assert all(f"(`{name}`)" in page for name in preset_names())


# --------------------------------------------------------------- recording_auth.hosts

BASIC = {"type": "basic", "username": "AC1", "password": "ssm:/callhook/twilio/token"}


def test_a_preset_fills_in_its_providers_media_hosts() -> None:
    channel = effective_channel(_channel(advanced_config={"preset": "twilio"}, recording_auth=BASIC))
    assert channel.recording_auth is not None
    assert channel.recording_auth.hosts == ["api.twilio.com"]
    assert channel.recording_auth.sends_to("API.twilio.com") and not channel.recording_auth.sends_to("evil.example")


def test_the_admins_hosts_replace_the_presets() -> None:
    channel = effective_channel(_channel(advanced_config={"preset": "twilio"},
                                         recording_auth={**BASIC, "hosts": ["api.dublin.ie1.twilio.com"]}))
    assert channel.recording_auth is not None
    assert channel.recording_auth.hosts == ["api.dublin.ie1.twilio.com"]


@pytest.mark.parametrize("advanced_config", [{}, {"preset": "aircall"}])
def test_recording_auth_without_hosts_from_anywhere_is_refused(advanced_config: dict[str, Any]) -> None:
    # refused when the item is saved (one validation, CLI or console), not only when ingest merges the preset
    with pytest.raises(ValidationError, match=r"recording_auth\.hosts is required"):
        _channel(advanced_config=advanced_config, recording_auth=BASIC)


def test_a_channel_without_recording_auth_needs_no_hosts() -> None:
    assert effective_channel(_channel()).recording_auth is None


@pytest.mark.parametrize(("host", "says"), [
    ("*.twilio.com", "wildcards are not accepted"),
    ("https://api.twilio.com", "not a hostname"),
    ("api.twilio.com:443", "not a hostname"),
    ("api.twilio.com/2010-04-01", "not a hostname"),
])
def test_recording_auth_hosts_are_plain_hostnames(host: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _channel(recording_auth={**BASIC, "hosts": [host]})


def test_every_presets_media_hosts_are_valid_hostnames() -> None:
    for preset in list_presets():
        for host in preset.recording_hosts:
            assert host == host.lower() and "*" not in host and "/" not in host, preset.name
