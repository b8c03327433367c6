"""Run an Action Jail action: build its request from the state, call the external system safely, map the answer.

Which failures are retried (the Step Functions contract of the Enrich task):

* ``DependencyUnavailableError`` (Retry with backoff, then Catch): the system answered 5xx or 429, did not answer
  in time, refused or reset the connection, DNS failed *temporarily*, secrets could not be read because AWS
  throttled, or the Lambda service throttled or failed. The ActionError that describes the failure is chained as
  ``__cause__``, so ``callhook action test`` can still print its ``code`` and details.
* ``ActionError`` leaves (Catch only): what a retry cannot fix: a placeholder without a value (``template``), an
  unreadable secret (``secret``), a refused destination, another 4xx (``http_status``), an answer that is not
  JSON (``invalid_json``), too large (``oversized``) or lacks a required key (``missing_result``), too many
  redirects, a name that does not resolve, a TLS failure, and an exception raised by a ``lambda`` action's function.

Secrets never leave this module in clear: ``ActionRun.request`` is rendered a second time with every secret
replaced by ``***``, and any exception leaving ``run_action`` has secret values (raw, percent- and JSON-encoded)
replaced by ``***`` in its message and details, its chain cut where a library's message quoted one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote, quote_plus, unquote, urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from jmespath.exceptions import JMESPathError

from callhook import aws
from callhook.aws_errors import THROTTLING_CODES
from callhook.errors import (
    ActionConnectionError,
    ActionError,
    ActionFunctionError,
    ActionHTTPError,
    ActionInvalidJSONError,
    ActionMissingResultError,
    ActionResponseError,
    ActionResponseTooLargeError,
    ActionSecretError,
    ActionTemplateError,
    ActionTimeoutError,
    DependencyUnavailableError,
)
from callhook.mapping.functions import search
from callhook.models.action import (
    KNOWN_RESULT_KEYS,
    PLACEHOLDER,
    Action,
    ActionRun,
    ActionRunRequest,
    EnrichmentResult,
    HttpAction,
    LambdaAction,
)
from callhook.observability import logger, tracer
from callhook.outbound import OutboundResponse, safe_request
from callhook.secrets_resolver import SecretUnreadableError, read_secret

SecretsResolver = Callable[[str], str]

MASK = "***"
EXCERPT_CHARS = 200
# Stands in for a secret while the masked view is rendered: URL-safe, so percent-encoding leaves it whole.
_MASK_TOKEN = "CALLHOOKMASKEDSECRET"
_RETRYABLE_CONNECTION_REASONS = frozenset({"refused", "dns_temporary"})
_LAMBDA_TRANSIENT_CODES = THROTTLING_CODES | {
    "ServiceException",
    "EC2ThrottledException",
    "ResourceNotReadyException",
    "ResourceConflictException",
}
_LINE_BREAK = re.compile(r"[\r\n\x00]")


class LambdaInvoker(Protocol):
    """The part of a boto3 Lambda client that a ``lambda`` action needs (tests pass a fake)."""

    def invoke(self, **kwargs: Any) -> dict[str, Any]: ...


@tracer.capture_method(capture_response=False)
def run_action(
    action: Action,
    state: Mapping[str, Any],
    *,
    secrets_resolver: SecretsResolver | None = None,
    lambda_invoker: LambdaInvoker | None = None,
) -> ActionRun:
    """Run ``action`` for one call and return what it found.

    ``state`` is ``{"telephony": {...}, "channel": {...}}``, plus ``"dialog"`` in full state mode.

    Raises:
        DependencyUnavailableError: a transient failure (see the module docstring); Step Functions retries it.
        ActionTemplateError, ActionSecretError, BlockedDestinationError, ActionHTTPError, ActionConnectionError,
        ActionInvalidJSONError, ActionResponseTooLargeError, ActionMissingResultError, ActionResponseError,
        ActionTooManyRedirectsError, ActionFunctionError: permanent for this action and call; caught, not retried.
    """
    secret_values: list[str] = []
    with _secrets_scrubbed(secret_values):
        if isinstance(action, LambdaAction):
            run = _run_lambda(action, state, lambda_invoker or aws.client("lambda"))
        else:
            secrets = resolve_secrets(action.secrets, secrets_resolver or resolve_secret)
            secret_values.extend(v for v in secrets.values() if v)
            run = _run_http(action, state, secrets)
    logger.info("action run", action_id=action.action_id, status_code=run.status_code, elapsed_ms=run.elapsed_ms)
    return run


def resolve_secret(reference: str) -> str:
    """The default resolver: ``ssm:NAME`` from Parameter Store (decrypted), ``secretsmanager:NAME``; cached 5 min
    (callhook.secrets_resolver, shared with signatures and recordings).

    Raises:
        DependencyUnavailableError: AWS throttled the read.
        ActionSecretError: the parameter or secret is missing or not readable.
    """
    try:
        return read_secret(reference)
    except SecretUnreadableError as exc:
        raise ActionSecretError(exc.message, reference=reference) from exc


def resolve_secrets(references: Mapping[str, str], resolver: SecretsResolver) -> dict[str, str]:
    """Every secret the action declares, by its name in the action (``{"api_key": "s3cr3t"}``)."""
    return {name: resolver(reference) for name, reference in references.items()}


def render(template: str, context: Mapping[str, Any], *, where: str, in_url: bool = False) -> str:
    """Fill ``{root.path}`` placeholders from ``context`` (``{{``/``}}`` are literal braces).

    In a URL, each value from the state or the secrets is one path segment: percent-encoded (``/``, ``?``, ``#``
    and ``%`` included), so webhook data cannot change the path, add a query or replace the host. ``.`` and ``..``
    survive encoding and servers resolve them (``/calls/../agent`` is ``/agent``), so such a value is refused, and
    so is an empty one in the path (``/calls//agent`` is another resource on many servers). ``params`` are admin
    configuration (typically the base URL) and are inserted as written.

    Raises:
        ActionTemplateError: a placeholder names a path with no value, or a URL value that would change the path;
            the error names the placeholder and why.
    """
    path_ends = _path_end(template) if in_url else 0

    def substitute(match: re.Match[str]) -> str:
        path = match.group(1)
        if path is None:
            return match.group(0)[0]
        text = _as_template_text(_lookup(context, path, where))
        if in_url and not path.startswith("params."):
            _check_segment(text, path, where, in_path=match.start() < path_ends)
            return quote(text, safe="")
        return text

    rendered = PLACEHOLDER.sub(substitute, template)
    if in_url:
        _check_no_dot_segments(rendered, where)
    return rendered


def _path_end(template: str) -> int:
    """Where the path of a URL template ends: its first literal ``?`` or ``#`` (placeholders are not literal)."""
    literal = PLACEHOLDER.sub(lambda m: "_" * len(m.group(0)), template)
    ends = [i for i in (literal.find("?"), literal.find("#")) if i >= 0]
    return min(ends) if ends else len(template)


def _check_segment(text: str, path: str, where: str, *, in_path: bool) -> None:
    if text in (".", ".."):
        raise ActionTemplateError(
            f"{where}: placeholder {{{path}}} is {text!r}, a dot segment that would move the request to another "
            "path; refused", placeholder=path, where=where, reason="dot_segment")
    if in_path and not text:
        raise ActionTemplateError(
            f"{where}: placeholder {{{path}}} is empty, which would leave an empty path segment; refused",
            placeholder=path, where=where, reason="empty_segment")


def _check_no_dot_segments(url: str, where: str) -> None:
    """No segment of the rendered path may read ``.`` or ``..``, however it was put together (two values side by
    side, or percent-encoded dots, which servers decode before resolving)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return  # the outbound rules refuse the URL itself
    for segment in path.split("/"):
        if unquote(segment) in (".", ".."):
            raise ActionTemplateError(
                f"{where}: the URL's path has a {unquote(segment)!r} segment, which would move the request to "
                "another path; refused", where=where, reason="dot_segment")


def render_json(value: Any, context: Mapping[str, Any], *, where: str) -> Any:
    """Render every string of a JSON-like body; a string that is exactly one placeholder keeps the value's type."""
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value)
        if match is not None and match.group(1) is not None:
            return _lookup(context, match.group(1), where)
        return render(value, context, where=where)
    if isinstance(value, dict):
        return {
            render(k, context, where=where): render_json(v, context, where=f"{where}.{k}") for k, v in value.items()
        }
    if isinstance(value, list):
        return [render_json(v, context, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def map_result(action: Action, document: Any) -> EnrichmentResult:
    """Apply the action's ``result`` JMESPath expressions to the answer.

    Known keys (``operator_email``, ``topic``, ``recording_url``) become strings (numbers are written out, an empty
    string is no value); ``operator_email`` and ``recording_url`` lose surrounding spaces, ``topic`` is kept as
    returned, since an alias is compared exactly (``"sales "`` is not ``"sales"``); other keys land in ``extra`` as
    found.

    Raises:
        ActionMissingResultError: a key listed in ``required`` came out empty.
        ActionResponseError: an expression failed on this answer (e.g. a function applied to the wrong type).
    """
    found: dict[str, Any] = {}
    for key, expression in action.result.items():
        try:
            value = search(expression, document)  # with callhook's functions, as the model validated it
        except JMESPathError as exc:
            raise ActionResponseError(
                f"action {action.action_id}: result.{key} ({expression!r}) failed on the answer: {exc}",
                key=key,
                expression=expression,
            ) from exc
        found[key] = _as_text(value, strip=key != "topic") if key in KNOWN_RESULT_KEYS else _strip(value)
    for key in action.required:
        if found.get(key) is None:
            raise ActionMissingResultError(
                f"action {action.action_id}: required result {key!r} is empty: "
                f"{action.result[key]!r} matched nothing usable in the answer",
                key=key,
                expression=action.result[key],
            )
    known = {key: found.pop(key) for key in KNOWN_RESULT_KEYS if key in found}
    return EnrichmentResult(**known, extra=found)


def _run_http(action: HttpAction, state: Mapping[str, Any], secrets: Mapping[str, str]) -> ActionRun:
    spec = action.request
    context = _context(action, state, secrets)
    masked = _context(action, state, dict.fromkeys(secrets, _MASK_TOKEN))
    url = render(spec.url, context, where="request.url", in_url=True)
    headers = {name: _render_header(name, value, context) for name, value in spec.headers.items()}
    query = {name: render(value, context, where=f"request.query.{name}") for name, value in spec.query.items()}
    body = render_json(spec.json_body, context, where="request.json_body") if spec.json_body is not None else None
    shown = _masked_request(spec.method, spec.url, spec.headers, spec.query, masked)
    # A header whose template uses a secret (`{secrets.…}`) carries one: it is sent to the URL's origin only.
    secret_headers = [name for name, template in spec.headers.items()
                      if _MASK_TOKEN in render(template, masked, where=f"request.headers.{name}")]

    started = time.monotonic()
    try:
        response = safe_request(
            spec.method,
            url,
            allow_private_network=action.allow_private_network,
            timeout_s=spec.timeout_s,
            max_bytes=action.max_response_bytes,
            headers=headers,
            params=query or None,
            json=body,
            secret_headers=secret_headers,
            secret_body=spec.json_body is not None and _MASK_TOKEN in json.dumps(
                render_json(spec.json_body, masked, where="request.json_body"), default=str),
        )
    except ActionTimeoutError as exc:
        raise DependencyUnavailableError(f"action {action.action_id}: {exc.message}") from exc
    except ActionConnectionError as exc:
        if exc.details.get("reason") in _RETRYABLE_CONNECTION_REASONS:
            raise DependencyUnavailableError(f"action {action.action_id}: {exc.message}") from exc
        raise
    elapsed_ms = int((time.monotonic() - started) * 1000)
    _raise_for_status(action, response, shown.url)
    result = (map_result(action, _parse_json(action, response.body, response.headers.get("content-type")))
              if action.result else EnrichmentResult())
    return ActionRun(
        action_id=action.action_id,
        type="http",
        request=shown,
        status_code=response.status,
        elapsed_ms=elapsed_ms,
        result=result,
    )


def _run_lambda(action: LambdaAction, state: Mapping[str, Any], invoker: LambdaInvoker) -> ActionRun:
    """Invoke the action's function with the state (plus ``action_id`` and ``params``) and map its JSON answer."""
    name = action.function_name
    payload = json.dumps({"action_id": action.action_id, "params": action.params, **state}, default=str)
    started = time.monotonic()
    try:
        answer = invoker.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=payload.encode())
        raw: bytes = answer["Payload"].read(action.max_response_bytes + 1)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in _LAMBDA_TRANSIENT_CODES:
            raise DependencyUnavailableError(f"action {action.action_id}: invoking {name} failed ({code})") from exc
        raise ActionConnectionError(
            f"action {action.action_id}: function {name} could not be invoked ({code})", function_name=name, reason=code
        ) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(
            f"action {action.action_id}: invoking {name} failed ({type(exc).__name__})"
        ) from exc
    elapsed_ms = int((time.monotonic() - started) * 1000)
    if len(raw) > action.max_response_bytes:
        raise ActionResponseTooLargeError(
            f"action {action.action_id}: the answer of {name} is larger than {action.max_response_bytes} bytes",
            function_name=name,
            max_bytes=action.max_response_bytes,
        )
    if answer.get("FunctionError"):
        error = _loads_or_none(raw)
        error = error if isinstance(error, dict) else {}
        error_type = str(error.get("errorType") or answer["FunctionError"])
        error_message = str(error.get("errorMessage", ""))[:EXCERPT_CHARS]
        raise ActionFunctionError(
            f"action {action.action_id}: function {name} raised {error_type}: {error_message}",
            function_name=name,
            error_type=error_type,
        )
    result = map_result(action, _parse_json(action, raw)) if action.result else EnrichmentResult()
    return ActionRun(
        action_id=action.action_id,
        type="lambda",
        request=ActionRunRequest(method="INVOKE", url=f"lambda:{name}"),
        status_code=int(answer.get("StatusCode", 200)),
        elapsed_ms=elapsed_ms,
        result=result,
    )


def _context(action: HttpAction, state: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    return {
        "params": action.params,
        "secrets": secrets,
        "telephony": state.get("telephony") or {},
        "channel": state.get("channel") or {},
        "dialog": state.get("dialog") or {},
    }


def _lookup(context: Mapping[str, Any], path: str, where: str) -> Any:
    value: Any = context
    for segment in path.split("."):
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            value = None
        if value is None:
            raise ActionTemplateError(
                f"{where}: placeholder {{{path}}} has no value in the state", placeholder=path, where=where
            )
    return value


def _as_template_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _render_header(name: str, template: str, context: Mapping[str, Any]) -> str:
    value = render(template, context, where=f"request.headers.{name}")
    if _LINE_BREAK.search(value):
        # The value is not quoted: it may hold a secret, and the state part is webhook data.
        raise ActionTemplateError(
            f"request.headers.{name}: the rendered value contains a line break", where=f"request.headers.{name}"
        )
    return value


def _masked_request(
    method: str, url: str, headers: Mapping[str, str], query: Mapping[str, str], masked: Mapping[str, Any]
) -> ActionRunRequest:
    """The request as shown to people: rendered again with secret stand-ins, which then read ``***``."""
    shown_url = render(url, masked, where="request.url", in_url=True)
    shown_query = {name: render(value, masked, where=f"request.query.{name}") for name, value in query.items()}
    if shown_query:
        shown_url += ("&" if "?" in shown_url else "?") + urlencode(shown_query)
    shown_headers = {name: render(value, masked, where=f"request.headers.{name}") for name, value in headers.items()}
    return ActionRunRequest(
        method=method,
        url=shown_url.replace(_MASK_TOKEN, MASK),
        headers={name: value.replace(_MASK_TOKEN, MASK) for name, value in shown_headers.items()},
    )


def preview_request(action: Action, state: Mapping[str, Any]) -> ActionRunRequest | None:
    """The request ``action`` sends for ``state``, secrets as ``***``, without sending it (what a failed action test
    shows; a run shows the same view). None when it cannot even be rendered (a placeholder with no value)."""
    if isinstance(action, LambdaAction):
        return ActionRunRequest(method="INVOKE", url=f"lambda:{action.function_name}")
    spec = action.request
    masked = _context(action, state, dict.fromkeys(action.secrets, _MASK_TOKEN))
    try:
        if spec.json_body is not None:
            render_json(spec.json_body, masked, where="request.json_body")
        return _masked_request(spec.method, spec.url, spec.headers, spec.query, masked)
    except ActionError:
        return None


def _raise_for_status(action: Action, response: OutboundResponse, request_url: str) -> None:
    """Refuse a non-2xx answer. The message names the answer by status, content type and size: it is stored on the
    dialog, which keeps no bytes of what a system answered (an error page may quote tokens or internal data). The
    excerpt stays in the error's details, for `callhook action test`, and the Enrich step leaves it out; the request
    (``request_url``, secrets masked) is ours, and says what was asked."""
    status = response.status
    if 200 <= status < 300:
        return
    host = urlsplit(response.final_url).hostname or "the external system"
    content_type = response.headers.get("content-type") or None
    error = ActionHTTPError(
        f"action {action.action_id}: {host} answered {status} ({_described(content_type, response.body)})",
        status_code=status,
        host=host,
        request_url=request_url,
        content_type=content_type,
        size=len(response.body),
        body_excerpt=_excerpt(response.body),
    )
    if status == 429 or status >= 500:
        raise DependencyUnavailableError(error.message) from error
    raise error


def _parse_json(action: Action, body: bytes, content_type: str | None = None) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ActionInvalidJSONError(
            f"action {action.action_id}: the answer is not JSON ({exc}; {_described(content_type, body)})",
            content_type=content_type,
            size=len(body),
            body_excerpt=_excerpt(body),
        ) from exc


def _described(content_type: str | None, body: bytes) -> str:
    return f"{content_type or 'no content type'}, {len(body)} bytes"


def _loads_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _excerpt(body: bytes) -> str:
    text = " ".join(body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace").split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "") if text else "(empty body)"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _as_text(value: Any, *, strip: bool = True) -> str | None:
    """A known result key as a string: numbers written out (``"101"``), lists and objects are not a value."""
    if isinstance(value, str):
        return (value.strip() if strip else value) or None
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


@contextmanager
def _secrets_scrubbed(secret_values: list[str]) -> Iterator[None]:
    """Mask every secret value in whatever exception leaves the block (the list fills in once secrets are read)."""
    try:
        yield
    except Exception as exc:
        if secret_values:
            _scrub_exception(exc, _secret_forms(secret_values))
        raise


def _secret_forms(values: list[str]) -> list[str]:
    forms = {form for v in values for form in (v, quote(v, safe=""), quote_plus(v), json.dumps(v)[1:-1]) if form}
    return sorted(forms, key=len, reverse=True)  # longest first, so a form containing another is masked whole


def _scrub(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, MASK)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, forms) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, forms) for v in value)
    return value


def _scrub_exception(exc: BaseException, forms: list[str]) -> None:
    exc.args = tuple(_scrub(arg, forms) for arg in exc.args)
    if isinstance(exc, ActionError):
        exc.message = _scrub(exc.message, forms)
        exc.details = _scrub(exc.details, forms)
    chained = exc.__cause__ or exc.__context__
    if isinstance(chained, ActionError):
        _scrub_exception(chained, forms)
    elif chained is not None and _mentions(chained, forms):
        # A library's exception quoted the URL or a header: keep the chain's type, not its text.
        exc.__cause__ = None
        exc.__suppress_context__ = True
        if isinstance(exc, ActionError):
            exc.details.setdefault("cause", type(chained).__name__)


def _mentions(exc: BaseException, forms: list[str]) -> bool:
    current: BaseException | None = exc
    while current is not None:
        text = f"{current!s} {current.args!r}"
        if any(form in text for form in forms):
            return True
        current = current.__cause__ or current.__context__
    return False
