"""Signature schemes (docs/webhook-api.md `signature.scheme`), verified over the raw request before anything is parsed.

One verifier per scheme. Each reads the provider's headers and the raw body, compares in constant time, and either
returns (the request is the provider's) or raises UnauthorizedError with a reason that names what was wrong but
never the expected value. A rejected request stores nothing: ingest stores only after this returns.

Some schemes hand back a *replacement body*, the JSON ingest parses instead of the raw body:

* `dialpad`: the body is a JWT; its verified claims are the event.
* `body-token`, `mango`: the credential travels inside the body (Aircall's `token`, Bitrix24's
  `auth[application_token]`, Mango's `vpbx_api_key`/`sign`); it is dropped so that it never reaches a dialog's
  `raw` or a stored raw event.

Secrets come from `signature.secret`, or from Parameter Store when it reads `ssm:/name` (decrypted, cached
`CHANNEL_CACHE_SECONDS` by ingest's secrets port, and read again before a request is refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.warnings import InsecureKeyLengthWarning
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callhook.errors import ChannelMisconfiguredError, SecretUnreadableError, UnauthorizedError
from callhook.mapping import parse_body, parse_query
from callhook.models.api import WebhookRequest
from callhook.models.channel import SECRET_REFERENCE_PREFIX, Channel, standard_webhooks_key

if TYPE_CHECKING:
    from callhook.ports import Secrets

DEFAULT_TOLERANCE_S = 300  # Telnyx's and Standard Webhooks' own libraries allow 5 minutes of clock drift
DEFAULT_MAX_AGE_S = 300  # how old a Vonage JWT (`iat`) may be; option `max_age_seconds`
JWT_LEEWAY_S = 60  # clock drift allowed on top of a JWT's age and on an `iat` slightly in the future
# Schemes that sign the body and nothing else: on GET, where the query is the data, they cover nothing.
BODY_ONLY_SCHEMES = frozenset({"hmac-sha256", "standard-webhooks", "telnyx", "vonage", "dialpad", "mango"})
_FORM = "application/x-www-form-urlencoded"
_REDACTED_QUERY_KEYS = frozenset({"token"})

# Zadarma signs a different concatenation of fields per event (its API library's `notify` helpers).
ZADARMA_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


@dataclass(frozen=True)
class _Check:
    """One verification: the request, the channel's scheme options, the resolved secret and the signed URL."""

    request: WebhookRequest
    options: dict[str, Any]
    secret: str
    url: str
    now: float

    def header(self, name: str) -> str:
        value = self.request.headers.get(name)
        if not value:
            raise UnauthorizedError(f"missing signature header {name}")
        return value.strip()

    def form_pairs(self) -> list[tuple[str, str]]:
        """The body's form fields as sent (keys not nested), for schemes that sign fields rather than bytes."""
        if not _is_form(self.request):
            return []
        try:
            return parse_qsl(self.request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise UnauthorizedError("the signed form body is not UTF-8") from exc


Verifier = Callable[[_Check], bytes | None]


def verify_signature(channel: Channel, request: WebhookRequest, secrets: Secrets, *,
                     now: float | None = None) -> bytes | None:
    """Check the request against the channel's signature scheme; return a replacement body (JSON) or None.

    Raises:
        UnauthorizedError: the signature (or token, timestamp, body hash) is missing, malformed or wrong (401).
        ChannelMisconfiguredError: the channel's secret cannot be read or is not in its scheme's form (503).
        DependencyUnavailableError: Parameter Store throttled the secret's read (503, the provider retries).
    """
    sig = channel.signature
    if sig is None or sig.scheme is None or not sig.secret:
        raise ChannelMisconfiguredError(f"channel {channel.channel_id!r} has no complete signature configuration")
    verifier = _VERIFIERS.get(sig.scheme)
    if verifier is None:
        raise ChannelMisconfiguredError(f"channel signature scheme {sig.scheme!r} is not supported")
    if sig.scheme in BODY_ONLY_SCHEMES and request.method.upper() == "GET" and _query_carries_data(request):
        raise UnauthorizedError(f"the {sig.scheme} scheme signs the body, not the query: a GET whose query carries "
                                "data is refused, since nothing would authenticate it (have the provider POST)")
    check = _Check(request=request, options=dict(sig.model_extra or {}), secret=resolve_secret(sig.secret, secrets),
                   url=signed_url(channel, request), now=time.time() if now is None else now)
    return verifier(check)


def _query_carries_data(request: WebhookRequest) -> bool:
    """True when the query holds anything a GET would turn into the dialog (our own `token` is not data)."""
    return any(name != "token" for name, _ in parse_qsl(request.raw_query, keep_blank_values=True))


def resolve_secret(value: str, secrets: Secrets) -> str:
    """The secret itself, or the decrypted Parameter Store value of `ssm:/name` (cached as the `secrets` port says).

    Raises:
        ChannelMisconfiguredError: the parameter is missing or not readable (the admin's fix; the provider retries).
        DependencyUnavailableError: Parameter Store throttled the read.
    """
    if not value.startswith(SECRET_REFERENCE_PREFIX):
        return value
    try:
        return secrets.read(value)
    except SecretUnreadableError as exc:
        raise ChannelMisconfiguredError(f"the signature secret {value} could not be read ({exc.code})") from exc


def signed_url(channel: Channel, request: WebhookRequest) -> str:
    """The URL the provider called, as schemes that sign it (Twilio, Plivo) computed it.

    The channel's `public_url` wins when set (a proxy or custom domain rewrote host or path); the query is always
    the one received, since that is what the provider appended and signed.
    """
    if not channel.public_url:
        return request.url
    base = channel.public_url.split("?", 1)[0]
    return base + (f"?{request.raw_query}" if request.raw_query else "")


# ---------------------------------------------------------------------------------------------------- schemes


def _hmac_sha256(check: _Check) -> bytes | None:
    """Generic HMAC-SHA256 of the raw body: options `header` (default x-signature), `encoding` (hex|base64) and
    an optional `prefix` (e.g. "sha256=")."""
    header = str(check.options.get("header", "x-signature")).lower()
    prefix = str(check.options.get("prefix", ""))
    presented = check.header(header)
    if prefix and not presented.startswith(prefix):
        raise UnauthorizedError(f"signature in {header} does not start with {prefix!r}")
    digest = hmac.new(check.secret.encode(), check.request.body, hashlib.sha256).digest()
    if check.options.get("encoding") == "base64":
        expected, given = base64.b64encode(digest).decode(), presented.removeprefix(prefix)
    else:
        expected, given = digest.hex(), presented.removeprefix(prefix).lower()
    if not _equal(given, expected):
        raise UnauthorizedError(f"signature in {header} does not match the body")
    return None


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """base64(HMAC-SHA1(auth token, URL + each parameter's name and value, sorted by name then value)).

    Repeated name/value pairs count once, as in Twilio's own RequestValidator.
    """
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _twilio(check: _Check) -> bytes | None:
    """X-Twilio-Signature over the full URL (query included) plus the sorted form parameters; any other body
    (JSON): the URL carries bodySHA256 (hex SHA-256 of the body) and only the URL is signed. A non-form body
    without bodySHA256 is covered by nothing and refused. Like Twilio's validator, the URL is tried as received,
    without its port and with the scheme's default port, since Twilio's own use of ports varies."""
    presented = check.header("x-twilio-signature")
    query = parse_qs(urlsplit(check.url).query, keep_blank_values=True)
    if "bodySHA256" in query:
        if not _equal(hashlib.sha256(check.request.body).hexdigest(), query["bodySHA256"][0].lower()):
            raise UnauthorizedError("bodySHA256 in the URL does not match the body")
        params: list[tuple[str, str]] = []
    elif check.request.body and not _is_form(check.request):
        raise UnauthorizedError("Twilio signs a body that is not form-encoded only through bodySHA256 in the URL; "
                                "this body is not covered by X-Twilio-Signature and is refused")
    else:
        params = check.form_pairs()
    if any(_equal(presented, twilio_signature(check.secret, url, params)) for url in _port_variants(check.url)):
        return None
    raise UnauthorizedError(f"X-Twilio-Signature does not match the request as received at {_redacted(check.url)}; "
                            "if the URL entered in Twilio differs, set the channel's public_url to it")


def _standard_webhooks(check: _Check) -> bytes | None:
    """webhook-id / webhook-timestamp / webhook-signature (`v1,` HMAC-SHA256, several for key rotation) through
    the `standardwebhooks` library, which also refuses timestamps more than 5 minutes away."""
    try:
        key = standard_webhooks_key(check.secret)
    except ValueError as exc:
        raise ChannelMisconfiguredError(f"signature.secret for standard-webhooks: {exc}") from exc
    headers = {name: value for name, value in check.request.headers.items() if name.startswith("webhook-")}
    try:
        Webhook(key).verify(check.request.body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise UnauthorizedError(f"standard-webhooks: {exc}") from exc
    except ValueError as exc:  # a signature entry without "v1,", invalid base64, a body that is not UTF-8
        raise UnauthorizedError("standard-webhooks: malformed webhook-signature header or body") from exc
    return None


def _telnyx(check: _Check) -> bytes | None:
    """Ed25519 over `timestamp|raw body` with the account's public key; the timestamp must be recent."""
    signature = _b64(check.header("telnyx-signature-ed25519"), "telnyx-signature-ed25519")
    timestamp = check.header("telnyx-timestamp")
    _fresh(timestamp, check)
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(check.secret, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ChannelMisconfiguredError("signature.secret for telnyx must be the account's public key: base64 of "
                                        "32 bytes (Mission Control > Keys & Credentials > Public Key)") from exc
    try:
        key.verify(signature, timestamp.encode() + b"|" + check.request.body)
    except InvalidSignature as exc:
        raise UnauthorizedError("telnyx-signature-ed25519 does not match timestamp|body") from exc
    return None


def plivo_v3_signature(auth_token: str, url: str, nonce: str, method: str, params: Iterable[tuple[str, str]]) -> str:
    """Plivo's X-Plivo-Signature-V3: base64(HMAC-SHA256(auth token, base URL + "." + nonce)).

    The base URL is the URL without its query, then `?` and the query sorted by name then value; for a POST with
    parameters, a `.` after a non-empty query and the form parameters as sorted name+value pairs (Plivo's SDKs'
    construct_post_url).
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = parse_qs(parts.query, keep_blank_values=True)
    query_text = "&".join(f"{name}={value}" for name in sorted(query) for value in sorted(query[name]))
    form: dict[str, list[str]] = {}
    for name, value in params:
        form.setdefault(name, []).append(value)
    if method.upper() == "POST" and form:
        base += "?" + query_text + ("." if query_text else "")
        base += "".join(name + value for name in sorted(form) for value in sorted(form[name]))
    elif query_text:
        base += "?" + query_text
    digest = hmac.new(auth_token.encode(), f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _plivo(check: _Check) -> bytes | None:
    """X-Plivo-Signature-V3 over the URL (query included), the form parameters of a POST and the nonce. Plivo has
    no body hash: a body that is not a form is covered by nothing and refused."""
    _form_or_nothing(check, "Plivo")
    presented = check.header("x-plivo-signature-v3")
    nonce = check.header("x-plivo-signature-v3-nonce")
    expected = plivo_v3_signature(check.secret, check.url, nonce, check.request.method, check.form_pairs())
    if not any(_equal(candidate.strip(), expected) for candidate in presented.split(",")):
        raise UnauthorizedError(f"X-Plivo-Signature-V3 does not match the request as received at "
                                f"{_redacted(check.url)}; if the URL entered in Plivo differs, set public_url")
    return None


def _vonage(check: _Check) -> bytes | None:
    """Authorization: Bearer JWT (HS256, the signature secret) whose payload_hash is the SHA-256 of the body.

    Both claims that tie the token to this request are required: `payload_hash` (an empty body too has a hash),
    and `iat`, no older than `max_age_seconds` (300) plus a minute of clock drift, since a Vonage token has no
    `exp` and would otherwise replay forever.
    """
    scheme, _, token = check.header("authorization").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("Authorization must be 'Bearer <JWT>' (Vonage signed callbacks)")
    claims = _jwt_claims(token.strip(), check.secret, "Vonage")
    payload_hash = claims.get("payload_hash")
    if not isinstance(payload_hash, str):
        raise UnauthorizedError("the Vonage JWT has no payload_hash: the body is not covered by the signature")
    if not _equal(payload_hash.lower(), hashlib.sha256(check.request.body).hexdigest()):
        raise UnauthorizedError("payload_hash in the Vonage JWT does not match the body")
    issued = claims.get("iat")
    if isinstance(issued, bool) or not isinstance(issued, int | float) or not math.isfinite(issued):
        raise UnauthorizedError("the Vonage JWT has no iat (issued-at) claim: its age cannot be checked")
    max_age = _seconds_option(check, "max_age_seconds", DEFAULT_MAX_AGE_S)
    age = check.now - float(issued)
    if age > max_age + JWT_LEEWAY_S or age < -JWT_LEEWAY_S:
        raise UnauthorizedError(f"the Vonage JWT was issued {int(age)} s ago (max_age_seconds {int(max_age)}): "
                                "replays are refused; check the server clock")
    return None


def _dialpad(check: _Check) -> bytes | None:
    """The whole body is a JWT (HS256, the webhook's secret): verified, its claims become the JSON body."""
    try:
        token = check.request.body.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise UnauthorizedError("the body is not a JWT (Dialpad signs the whole body with the webhook's secret)") \
            from exc
    if token.startswith("{"):
        raise UnauthorizedError("the body is plain JSON, but this channel expects Dialpad's signed JWT body: give "
                                "the Dialpad webhook a secret, or remove the channel's signature")
    return json.dumps(_jwt_claims(token, check.secret, "Dialpad")).encode()


def zadarma_signature(secret: str, fields: dict[str, str]) -> str | None:
    """base64 of the hex HMAC-SHA1 of the event's signed fields (None for an event Zadarma does not sign)."""
    names = ZADARMA_SIGNED_FIELDS.get(fields.get("event", ""))
    if names is None:
        return None
    digest = hmac.new(secret.encode(), "".join(fields.get(n, "") for n in names).encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def _zadarma(check: _Check) -> bytes | None:
    """Signature over a few fields of the event (ZADARMA_SIGNED_FIELDS), read from where the data is: the query of
    a GET, the form body of a POST. Zadarma leaves the event's other fields (duration, disposition, status_code,
    is_recorded, ...) unsigned: docs/PROVIDERS.md says which."""
    presented = check.header("signature")
    if check.request.method.upper() == "GET":
        pairs = parse_qsl(check.request.raw_query, keep_blank_values=True)
    else:
        _form_or_nothing(check, "Zadarma")
        pairs = check.form_pairs()
    fields = dict(pairs)
    expected = zadarma_signature(check.secret, fields)
    if expected is None:
        raise UnauthorizedError(f"no Zadarma signature rule for event {str(fields.get('event'))[:40]!r}")
    if not _equal(presented, expected):
        raise UnauthorizedError("Signature does not match the event's signed fields")
    return None


def _mango(check: _Check) -> bytes | None:
    """sign = hex(SHA-256(vpbx_api_key + json + api salt)); the credentials are dropped from the body."""
    fields = dict(check.form_pairs())
    api_key, sign, document = fields.get("vpbx_api_key"), fields.get("sign"), fields.get("json")
    if not (api_key and sign and document is not None):
        raise UnauthorizedError("Mango Office events carry vpbx_api_key, sign and json form fields")
    expected_key = check.options.get("api_key")
    if expected_key and not _equal(api_key, str(expected_key)):
        raise UnauthorizedError("vpbx_api_key is not this channel's VPBX")
    if not _equal(sign.lower(), hashlib.sha256((api_key + document + check.secret).encode()).hexdigest()):
        raise UnauthorizedError("sign does not match vpbx_api_key + json + the API salt")
    return json.dumps({"json": document}).encode()


def _body_token(check: _Check) -> bytes | None:
    """A shared token inside the body (option `field`, a dotted path: Aircall `token`, Bitrix24
    `auth.application_token`); the verified body is returned without it."""
    field = str(check.options.get("field", "token"))
    request = check.request
    body = parse_query(request.raw_query) if request.method == "GET" else parse_body(request.body,
                                                                                     request.content_type)
    presented = _pop_path(body, field.split("."))
    if not isinstance(presented, str | int) or not str(presented):
        raise UnauthorizedError(f"missing {field} in the body")
    if not _equal(str(presented), check.secret):
        raise UnauthorizedError(f"wrong {field} in the body")
    return None if request.method == "GET" else json.dumps(body).encode()


def _header_token(check: _Check) -> bytes | None:
    """A shared token in a header (option `header`: RingCentral's Verification-Token)."""
    header = str(check.options.get("header", "verification-token")).lower()
    if not _equal(check.header(header), check.secret):
        raise UnauthorizedError(f"wrong {header}")
    return None


_VERIFIERS: dict[str, Verifier] = {
    "hmac-sha256": _hmac_sha256,
    "standard-webhooks": _standard_webhooks,
    "twilio": _twilio,
    "telnyx": _telnyx,
    "plivo": _plivo,
    "vonage": _vonage,
    "dialpad": _dialpad,
    "zadarma": _zadarma,
    "mango": _mango,
    "body-token": _body_token,
    "header-token": _header_token,
}


# ---------------------------------------------------------------------------------------------------- helpers


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _is_form(request: WebhookRequest) -> bool:
    return (request.content_type or "").split(";")[0].strip().lower() == _FORM


def _form_or_nothing(check: _Check, provider: str) -> None:
    """Schemes that sign form fields cover nothing of another kind of body: refuse it rather than map it."""
    if check.request.body and not _is_form(check.request):
        raise UnauthorizedError(f"{provider} signs form fields only: this body is not form-encoded, so the "
                                "signature does not cover it, and it is refused")


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnauthorizedError(f"{what} is not valid base64") from exc


def _seconds_option(check: _Check, name: str, default: float) -> float:
    value = check.options.get(name, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ChannelMisconfiguredError(f"signature.{name} must be a number of seconds, not {str(value)[:40]!r}")
    return seconds


def _fresh(timestamp: str, check: _Check) -> None:
    tolerance = _seconds_option(check, "tolerance_seconds", DEFAULT_TOLERANCE_S)
    try:
        moment = float(timestamp)
    except ValueError as exc:
        raise UnauthorizedError("the signature timestamp is not a unix time") from exc
    if not math.isfinite(moment):  # "inf" or "1e400" parse as floats; "nan" would compare as fresh
        raise UnauthorizedError("the signature timestamp is not a unix time")
    if abs(check.now - moment) > tolerance:
        raise UnauthorizedError(f"the signature timestamp is {int(check.now - moment)} s from now (tolerance "
                                f"{int(tolerance)} s): replays are refused; check the server clock")


def _jwt_claims(token: str, secret: str, provider: str) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            # The provider chose the secret's length; a warning per request would only fill our logs.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False},
                                leeway=JWT_LEEWAY_S)
    except jwt.InvalidTokenError as exc:
        raise UnauthorizedError(f"{provider} JWT rejected: {exc}") from exc
    if not isinstance(claims, dict):
        raise UnauthorizedError(f"{provider} JWT claims are not an object")
    return claims


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    if parts.port is not None:
        other = userinfo + host.rsplit(":", 1)[0]
    else:
        other = f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}"
    return [url, urlunsplit(parts._replace(netloc=other))]


def _redacted(url: str) -> str:
    """The URL for an error message: our own token never goes into an answer or a log."""
    parts = urlsplit(url)
    pairs = [(k, "***" if k in _REDACTED_QUERY_KEYS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="*")))


def _pop_path(document: dict[str, Any], path: list[str]) -> Any:
    node: Any = document
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node.pop(path[-1], None) if isinstance(node, dict) else None
