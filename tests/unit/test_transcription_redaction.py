"""PII redaction and channel roles: the channel's settings and what Amazon Transcribe refuses, the job request, the
local engine's recognisers (callhook_local/redaction.py), and roles on turns and in the feed. No AWS."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from callhook.models.call import Telephony
from callhook.models.channel import Channel, TranscriptionConfig
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Recording, RecordingStatus, Transcription
from callhook.services.transcript import feed_text, read_transcript
from callhook.services.transcription_job import job_request, transcript_key_for
from callhook.settings import TranscriptionSettings
from callhook_local.redaction import PII, digits_of, luhn, redact
from callhook_local.transcribe import Word, transcript_document

SETTINGS = TranscriptionSettings.model_validate({
    "CHANNELS_TABLE": "c", "DIALOGS_TABLE": "d", "EVENTS_TABLE": "e", "OPERATORS_TABLE": "o", "TOPICS_TABLE": "t",
    "ACTIONS_TABLE": "a", "SETTINGS_TABLE": "s", "RECORDINGS_BUCKET": "rec-bucket", "TRANSCRIBE_JOB_PREFIX": "stk-"})


def spoken(text: str, label: str = "spk_0", start: float = 0.0) -> list[Word]:
    """Words as the engine gives them: one every half second, trailing punctuation apart."""
    words = []
    for i, token in enumerate(text.split()):
        word = token.rstrip(".,?!")
        words.append(Word(word, start + i / 2, start + i / 2 + 0.4, 0.9, label, token[len(word):]))
    return words


def said(words: list[Word]) -> str:
    return " ".join(w.text + w.punctuation for w in words)


def types(words: list[Word]) -> list[str | None]:
    return [w.redaction for w in words if w.redaction]


# ---------------------------------------------------------------------------------------------------- recognisers


@pytest.mark.parametrize(("text", "expected", "kinds"), [
    ("my card number is four one one one, one one one one, one one one one, one one one one. thanks",
     f"my card number is {PII}. thanks", ["CREDIT_DEBIT_NUMBER"]),
    ("it is 4111 1111 1111 1111 ok", f"it is {PII} ok", ["CREDIT_DEBIT_NUMBER"]),  # Luhn, no label needed
    ("card number 4111, 111, 111, 111, 112 please", f"card number {PII} please", ["CREDIT_DEBIT_NUMBER"]),
    ("call me on 415-555-0143 tomorrow", f"call me on {PII} tomorrow", ["PHONE"]),
    ("reach me at four one five five five five oh one four three.", f"reach me at {PII}.", ["PHONE"]),
    ("you can call me back on 415 -5500143 thank you", f"you can call me back on {PII} thank you", ["PHONE"]),
    ("it was 202 555 0143 I think", f"it was {PII} I think", ["PHONE"]),  # a valid number, no label needed
    ("my social security number is 123 45 6789.", f"my social security number is {PII}.", ["SSN"]),
    ("the routing number is 0 2 1 0 0 0 0 2 1", f"the routing number is {PII}", ["BANK_ROUTING"]),
    ("my account number is double seven three two nine", f"my account number is {PII}", ["BANK_ACCOUNT_NUMBER"]),
    ("the security code is 737", f"the security code is {PII}", ["CREDIT_DEBIT_CVV"]),
    ("my pin is 4 4 2 1", f"my pin is {PII}", ["PIN"]),
    ("write to ann.lee@example.com today", f"write to {PII} today", ["EMAIL"]),
    ("it is ann at example dot com thanks", f"it is {PII} thanks", ["EMAIL"]),
    ("Hello, my name is Ann Lee. I have a question", f"Hello, my name is {PII}. I have a question", ["NAME"]),
    ("Hi, this is Bob calling about my order", f"Hi, this is {PII} calling about my order", ["NAME"]),
])
def test_redact_replaces_each_entity_with_one_pii_word(text: str, expected: str, kinds: list[str]) -> None:
    assert said(redacted := redact(spoken(text))) == expected
    assert types(redacted) == kinds


@pytest.mark.parametrize("text", [
    "oh I see, thank you",
    "I ordered 2 printers and 3 cables",
    "the order 1234 5678 9012 3456 arrived",  # 16 digits failing Luhn, no card mentioned
    "this is the best offer",
    "we open at nine tomorrow",
    "this is Monday, right",
    "my order number is 12345678",  # not a valid phone number, and an order is no entity type
])
def test_redact_leaves_what_is_not_pii(text: str) -> None:
    assert said(redact(spoken(text))) == text


def test_redacted_word_spans_the_words_it_replaces_and_keeps_none_of_them() -> None:
    # Given
    words = spoken("call me on four one five five five five zero one four three, please")
    # When
    redacted = redact(words)
    # Then one word from the first digit's start to the last digit's end, with the lowest confidence
    [pii] = [w for w in redacted if w.text == PII]
    assert (pii.start_s, pii.end_s, pii.punctuation) == (words[3].start_s, words[12].end_s, ",")
    assert [w.text for w in redacted] == ["call", "me", "on", PII, "please"]


def test_redact_keeps_entity_types_not_asked_for() -> None:
    words = spoken("my card is 4111 1111 1111 1111 and my phone is 415 555 0143")
    assert said(redact(words, ["PHONE"])) == f"my card is 4111 1111 1111 1111 and my phone is {PII}"
    assert said(redact(words, ["ALL"])) == f"my card is {PII} and my phone is {PII}"


def test_redact_never_joins_two_speakers_numbers() -> None:
    # Given the agent says a number and the customer goes on with digits of their own
    words = spoken("the code is 4 1", "ch_0") + spoken("1 1 ok", "ch_1", start=10)
    # Then each channel is read on its own: neither run is a card, PIN or phone
    assert said(redact(words)) == "the code is 4 1 1 1 ok"


def test_number_helpers() -> None:
    assert [digits_of(t) for t in ("four", "Oh", "415-555", "(415)", "-5500143", "4111,", "four.")] == [
        "4", "0", "415555", "415", "5500143", None, None]
    assert luhn("4111111111111111") and not luhn("4111111111111112")


def test_redacted_output_is_transcribes_shape() -> None:
    # When the engine writes a redacted transcript
    document = transcript_document("job", "123", redact(spoken("call 415 555 0143.")), language="en-US")
    # Then the [PII] item names the entity type, as Transcribe's redacted output does
    [item, mark] = document["results"]["items"][1:]
    assert item["alternatives"][0]["content"] == PII
    assert item["alternatives"][0]["redactions"] == [{"confidence": "0.9000", "type": "PHONE", "category": "PII"}]
    assert mark["type"] == "punctuation"
    assert document["results"]["transcripts"][0]["transcript"] == f"call {PII}."


# ---------------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(("config", "message"), [
    ({"redact_pii": True}, "redact_pii needs a fixed language"),
    ({"redact_pii": True, "language": "ru-RU"}, "not ru-RU"),
    ({"redact_pii": ["PHONE"], "languages": ["en-GB"]}, "not en-GB"),
    ({"redact_pii": [], "language": "en-US"}, "list at least one entity type"),
    ({"redact_pii": ["PHONES"], "language": "en-US"}, "redact_pii"),
    ({"channel_roles": {"0": "agent", "1": "agent"}}, "different roles"),
    ({"channel_roles": {"2": "agent"}}, "channel_roles"),
    ({"channel_roles": {"0": "caller"}}, "channel_roles"),
])
def test_transcription_settings_transcribe_refuses_are_invalid(config: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TranscriptionConfig.model_validate(config)


def test_redaction_settings_transcribe_accepts() -> None:
    assert TranscriptionConfig.model_validate({"redact_pii": True, "language": "en-US"}).redaction == ["ALL"]
    assert TranscriptionConfig.model_validate({"redact_pii": ["PHONE", "SSN", "PHONE"], "languages": ["es-US"]},
                                              ).redaction == ["PHONE", "SSN"]
    assert TranscriptionConfig.model_validate({"redact_pii": False}).redaction is None
    assert TranscriptionConfig.model_validate({"redact_pii": True, "language": "de-DE"}).fixed_language == "de-DE"


def test_channel_item_written_raw_in_the_console_reads_its_transcription_settings() -> None:
    # Given the JSON an admin types into the DynamoDB console
    item = json.loads('{"channel_id": "ch", "webhook_token": "0123456789abcdef", "advanced_config": {"transcription": {'
                      '"language": "en-US", "redact_pii": ["CREDIT_DEBIT_NUMBER", "PHONE"], '
                      '"channel_roles": {"0": "agent", "1": "customer"}}}}')
    # Then
    config = Channel.model_validate(item).advanced_config.transcription
    assert config.redaction == ["CREDIT_DEBIT_NUMBER", "PHONE"]
    assert config.channel_roles == {"0": "agent", "1": "customer"}


# ---------------------------------------------------------------------------------------------------- the job


def dialog(channels: int = 1) -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c", created_at="2026-01-01T00:00:00Z",
                  telephony=Telephony(call_id="c"), enrichment=Enrichment(status=EnrichmentStatus.DISABLED),
                  recording=Recording(status=RecordingStatus.KEPT, s3_key="recordings/ch/d-1.wav",
                                      media_format="wav", channels=channels, sample_rate_hz=8000))


def channel(**transcription: object) -> Channel:
    return Channel.model_validate({"channel_id": "ch", "webhook_token": "0123456789abcdef",
                                   "advanced_config": {"transcription": transcription}})


def test_job_request_asks_for_the_redacted_transcript_only() -> None:
    every = job_request(dialog(), channel(language="en-US", redact_pii=True), "job", SETTINGS)
    some = job_request(dialog(), channel(languages=["en-US"], redact_pii=["PHONE", "EMAIL"]), "job", SETTINGS)
    plain = job_request(dialog(), channel(language="en-US"), "job", SETTINGS)
    assert every["ContentRedaction"] == {"RedactionType": "PII", "RedactionOutput": "redacted"}
    assert some["ContentRedaction"] == {"RedactionType": "PII", "RedactionOutput": "redacted",
                                        "PiiEntityTypes": ["PHONE", "EMAIL"]}
    assert (every["LanguageCode"], some["LanguageCode"]) == ("en-US", "en-US")
    assert "IdentifyLanguage" not in every and "ContentRedaction" not in plain


def test_redacted_transcript_key_is_transcribes() -> None:
    assert transcript_key_for(dialog()) == "transcripts/ch/d-1.json"
    assert transcript_key_for(dialog(), redacted=True) == "transcripts/ch/redacted-d-1.json"


def test_turns_say_their_channels_role_and_the_feed_who_spoke() -> None:
    # Given a two-channel transcript
    words = spoken("good morning.", "ch_0") + spoken("hi, I need help.", "ch_1", start=2) + spoken(
        "sure.", "ch_0", start=5)
    body = json.dumps(transcript_document("job", "1", words, language="en-US", by_channel=True)).encode()
    # When it is read with the channel's roles
    content = read_transcript(body, roles={"0": "agent", "1": "customer"})
    # Then
    assert [(t["speaker"], t["role"], t["text"]) for t in content.turns] == [
        ("ch_0", "agent", "good morning."), ("ch_1", "customer", "hi, I need help."), ("ch_0", "agent", "sure.")]
    final = Transcription(text=content.text, turns=content.turns)
    assert feed_text(final) == "agent: good morning.\ncustomer: hi, I need help.\nagent: sure."
    # And without roles, turns have none and the feed is the text
    plain = read_transcript(body)
    assert all("role" not in t for t in plain.turns)
    assert feed_text(Transcription(text=plain.text, turns=plain.turns)) == plain.text
