"""The parts of a channel item (docs/items.md) that presets are made of: signature, handshake, recording credentials,
transcription options, and the mapping (`MappingConfig`).

They know nothing of presets, so `callhook.models.preset` and `callhook.presets` build on them while
`callhook.models.channel` (the whole item, validated with its preset) builds on both: imports flow one way.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callhook.models.call import CANONICAL_FIELDS
from callhook.models.grants import check_granted_secret
from callhook.models.validators import (
    JMESPathExpression,
    check_optional_expression,
    check_secret_reference,
    check_timezone,
    looks_like_reference,
)


class EnrichErrorAction(StrEnum):
    """What the workflow does when the webhook enrich action fails (the seed's "Enrich error action")."""

    DO_NOT_ASSIGN = "do_not_assign"
    ASSIGN_ADMIN = "assign_admin"


SIGNATURE_SCHEMES = (
    "hmac-sha256", "standard-webhooks", "twilio", "telnyx", "plivo", "vonage", "dialpad", "zadarma", "mango",
    "body-token", "header-token",
)
"""The `signature.scheme` values callhook verifies (callhook.services.signatures has one verifier per name)."""

SECRET_REFERENCE_PREFIX = "ssm:"


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` + base64), or ValueError saying what is wrong with it.

    Pasting the secret in the wrong form is the scheme's most common support question, so each usual mistake gets
    its own message rather than a silently wrong key (the reference library decodes leniently).
    """
    text = secret.strip()
    if text.startswith(("v1,", "v1a,")):
        raise ValueError("this looks like a signature ('v1,...'), not the secret: paste the endpoint's 'whsec_...' "
                         "signing secret")
    if text.startswith(("whpk_", "whsk_")):
        raise ValueError("this is an Ed25519 key ('whpk_'/'whsk_', signatures 'v1a'), which the standard-webhooks "
                         "library does not verify; use the endpoint's symmetric 'whsec_...' secret")
    if not text.startswith("whsec_"):
        raise ValueError("a Standard Webhooks secret starts with 'whsec_' followed by base64 (as the provider's "
                         "console shows it); paste it whole, prefix included")
    encoded = text.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the part after 'whsec_' is not valid base64; copy the secret again") from exc
    if not key:
        raise ValueError("the secret after 'whsec_' is empty")
    return key


class SignatureConfig(BaseModel):
    """How the provider signs its requests; checked over the raw body before parsing.

    `scheme` may be left out when the channel's preset names it (`advanced_config.preset`); `secret` is the value
    or an SSM reference (`ssm:/callhook/...`, read decrypted and cached for 5 minutes). Scheme options (`header`,
    `encoding`, `prefix`, `field`, `tolerance_seconds`, `api_key`) are extra keys, documented in docs/PROVIDERS.md.
    """

    model_config = ConfigDict(extra="allow")

    scheme: str | None = None
    secret: str | None = None

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, scheme: str | None) -> str | None:
        if scheme is not None and scheme not in SIGNATURE_SCHEMES:
            raise ValueError(f"unknown signature scheme {scheme!r}; known: {list(SIGNATURE_SCHEMES)}")
        return scheme

    @model_validator(mode="after")
    def _secret_in_its_form(self) -> SignatureConfig:
        if not self.secret or not self.secret.strip():
            raise ValueError("signature.secret is required (the value, or 'ssm:/callhook/NAME')")
        if looks_like_reference(self.secret):  # ingest resolves ssm: only; anything else would be used as the key
            check_secret_reference(self.secret, (SECRET_REFERENCE_PREFIX,))
        if self.scheme == "standard-webhooks" and not self.secret.startswith(SECRET_REFERENCE_PREFIX):
            standard_webhooks_key(self.secret)
        return self


class HandshakeConfig(BaseModel):
    """A provider's URL check, answered without authentication because it carries no call data and stores nothing.

    `echo_query`: a request whose only parameter is `param` (Zadarma's `?zd_echo=X`) is answered `X` as text/plain.
    `echo_header`: a request with an empty body and header `param` (RingCentral's `Validation-Token`) is answered
    200 with the same header.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["echo_query", "echo_header"]
    param: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


# Amazon Transcribe's PiiEntityType values (StartTranscriptionJob's ContentRedaction.PiiEntityTypes).
PiiEntityType = Literal[
    "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV", "CREDIT_DEBIT_EXPIRY", "PIN",
    "EMAIL", "ADDRESS", "NAME", "PHONE", "SSN", "DATE_TIME", "PASSPORT_NUMBER", "DRIVER_ID", "URL", "AGE",
    "USERNAME", "PASSWORD", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "IP_ADDRESS", "MAC_ADDRESS", "LICENSE_PLATE",
    "VEHICLE_IDENTIFICATION_NUMBER", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "CA_HEALTH_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER", "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "SWIFT_CODE", "ALL"]
# The languages whose batch transcripts Amazon Transcribe redacts (its PII redaction guide); it refuses redaction
# with automatic language identification.
REDACTION_LANGUAGES = ("en-US", "es-US", "fr-FR", "fr-CA", "de-DE", "de-CH", "it-IT", "pt-PT", "pt-BR")
ChannelRole = Literal["agent", "customer"]


class TranscriptionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = None  # e.g. "en-US"; None = automatic identification over `languages`
    languages: list[str] = Field(default_factory=lambda: ["en-US", "es-US", "de-DE", "fr-FR", "ru-RU"])
    max_speakers: int = Field(default=2, ge=2, le=30)  # speaker separation of mono recordings (stereo: by channel)
    # true: every entity type Transcribe knows; a list: those. The transcript is stored redacted only.
    redact_pii: bool | list[PiiEntityType] = False
    # A stereo recording's channels ("0" left, "1" right): each turn of that channel says the role.
    channel_roles: dict[Literal["0", "1"], ChannelRole] = Field(default_factory=dict)

    @property
    def fixed_language(self) -> str | None:
        """The language the job names (LanguageCode); None when Transcribe identifies it among `languages`."""
        return self.language or (self.languages[0] if len(self.languages) == 1 else None)

    @property
    def redaction(self) -> list[str] | None:
        """The entity types redacted (`["ALL"]` for every type); None when the transcript is not redacted."""
        if self.redact_pii is True:
            return ["ALL"]
        return list(dict.fromkeys(self.redact_pii)) if self.redact_pii else None

    @model_validator(mode="after")
    def _what_transcribe_accepts(self) -> TranscriptionConfig:
        if self.redact_pii == []:
            raise ValueError("redact_pii: list at least one entity type (e.g. [\"PHONE\"]), or say true for all")
        if self.redact_pii:
            language = self.fixed_language
            if language is None:
                raise ValueError("redact_pii needs a fixed language (e.g. \"language\": \"en-US\"): Amazon "
                                 "Transcribe does not redact with automatic language identification")
            if language not in REDACTION_LANGUAGES:
                raise ValueError(f"redact_pii: Amazon Transcribe redacts {', '.join(REDACTION_LANGUAGES)} only, "
                                 f"not {language}")
        if len(set(self.channel_roles.values())) < len(self.channel_roles):
            raise ValueError("channel_roles: the two channels need different roles (agent and customer)")
        return self


RECORDING_SECRET_PREFIXES = ("ssm:", "secretsmanager:")


class RecordingAuth(BaseModel):
    """Credentials for downloading the provider's recordings (Twilio: HTTP Basic, account SID and auth token).

    Secrets are references (`ssm:/callhook/...` or `secretsmanager:NAME`), never values: a channel item is read
    by admins in the console. `basic`: `username` + `password`; `bearer`: `token`; `header`: `header` + `value`.

    `hosts` lists the hostnames the credentials may be sent to (compared exactly, case-insensitively; any port);
    a recording URL on any other host is fetched without them. It is required unless the channel's preset names
    its provider's media hosts (callhook.presets fills them in and refuses a channel that has neither). Wildcards
    are refused: under a shared domain (`*.amazonaws.com`, a CDN) anyone could receive the credentials.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["basic", "bearer", "header"]
    username: str | None = None
    password: str | None = None
    token: str | None = None
    header: str | None = Field(default=None, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    value: str | None = None
    hosts: list[str] = Field(default_factory=list, max_length=20)

    _DNS_NAME: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")

    @field_validator("hosts")
    @classmethod
    def _hostnames_only(cls, hosts: list[str]) -> list[str]:
        return [cls.hostname(host) for host in hosts]

    @classmethod
    def hostname(cls, text: str) -> str:
        """One `hosts` entry, normalised (lower case, no trailing dot), or ValueError saying why it is not one."""
        host = text.strip().lower().rstrip(".")
        if "*" in host:
            raise ValueError(f"{text!r}: wildcards are not accepted; list each host the credentials may be sent "
                             "to (a wildcard over a shared domain would send them to anyone hosting under it)")
        try:
            return str(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            pass
        if not cls._DNS_NAME.fullmatch(host):
            raise ValueError(f"{text!r} is not a hostname: give the name only, without scheme, port or path "
                             "(e.g. 'api.twilio.com')")
        return host

    def sends_to(self, host: str | None) -> bool:
        """Whether the credentials may go to `host` (a URL's hostname)."""
        return host is not None and host.lower().rstrip(".") in self.hosts

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> RecordingAuth:
        needed = {"basic": ("username", "password"), "bearer": ("token",), "header": ("header", "value")}[self.type]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"recording_auth of type {self.type!r} needs {', '.join(missing)}")
        for name in ("password", "token", "value"):
            ref = getattr(self, name)
            if ref is not None and not ref.startswith(RECORDING_SECRET_PREFIXES):
                raise ValueError(f"recording_auth.{name} must be a secret reference "
                                 f"('ssm:/callhook/NAME' or 'secretsmanager:callhook/NAME'), not the secret itself")
            if ref is not None:
                check_granted_secret(ref)
        return self


class MappingConfig(BaseModel):
    """How a provider's webhook becomes a call: the field mapping and event selection. What a preset may fill in
    (callhook.models.preset) and the first part of a channel's `advanced_config`."""

    model_config = ConfigDict(extra="forbid")

    # Each expression is checked as ingest evaluates it (our functions and their arity): a typo is refused with its
    # path, e.g. `advanced_config.field_mapping.caller`.
    field_mapping: dict[str, JMESPathExpression] = Field(default_factory=dict)
    accept_when: Annotated[str | None, AfterValidator(check_optional_expression)] = None
    update_when: Annotated[str | None, AfterValidator(check_optional_expression)] = None
    # One rule with `to_iso(v, tz)`: an IANA name, UTC, or a fixed offset such as "+03:00".
    timezone: Annotated[str | None, AfterValidator(check_timezone)] = None
    default_region: str | None = None

    @field_validator("field_mapping")
    @classmethod
    def _known_fields(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; known: {list(CANONICAL_FIELDS)}")
        return mapping

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is None:
            return None
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r}: use an ISO 3166 code such as 'US', 'GB', 'RU'")
        return region

    def mapping_for(self, field: str) -> str:
        """The expression for a canonical field: the admin's, else the field's own name."""
        return self.field_mapping.get(field, field)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each with its field path: what the webhook answer and the CLI print."""
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(item)"
        parts.append(f"{path}: {err['msg']}")
    return "; ".join(parts)
