"""Action Jail items (CONTRACT §3) and what running one reports.

An action is admin-authored configuration that turns into outbound traffic, so the model is strict
(``extra="forbid"``): a typo in a key, a bad JMESPath, an undeclared secret or a placeholder with an unknown root
fails when the item is read (``callhook action put``), not in the middle of a call.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callhook.models.validators import SECRET_KINDS, JMESPathExpression, SecretReference

SECRET_PREFIXES: tuple[str, ...] = SECRET_KINDS
KNOWN_RESULT_KEYS: tuple[str, ...] = ("operator_email", "topic", "recording_url")
TEMPLATE_ROOTS: tuple[str, ...] = ("params", "secrets", "telephony", "channel", "dialog")

# `{root.path.to.value}`; `{{` and `}}` are literal braces. Shared with callhook.services.actions, which renders.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Set by the outbound layer itself (Host carries the name while the connection is pinned to the vetted address).
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def placeholders(value: Any) -> list[str]:
    """Every placeholder path (``"telephony.call_id"``) in a template string or a JSON-like structure of them."""
    if isinstance(value, str):
        return [m.group(1) for m in PLACEHOLDER.finditer(value) if m.group(1)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in placeholders(k) + placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in placeholders(v)]
    return []


class HttpRequestSpec(BaseModel):
    """The request template of an ``http`` action; every string may hold placeholders."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any | None = None
    timeout_s: float = Field(default=5, gt=0, le=30)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _check_header_names(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by callhook and cannot be configured")
        return headers


class Action(BaseModel):
    """An Action Jail item: a request built from the state, its parameters and secrets, and a result mapping."""

    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    type: Literal["http", "lambda"] = "http"
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, SecretReference] = Field(default_factory=dict)
    request: HttpRequestSpec | None = None
    result: dict[str, JMESPathExpression] = Field(default_factory=dict)
    # Nothing is required unless the admin says so: an enrichment without an email is a success (CONTRACT §4 falls
    # back to the webhook's own operator fields), so only a listed key turns an empty match into a failure.
    required: list[str] = Field(default_factory=list)
    allow_private_network: bool = False
    max_response_bytes: int = Field(default=1_048_576, gt=0, le=16 * 1_048_576)
    function_name: str | None = Field(default=None, min_length=1)
    version: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_consistency(self) -> Action:
        if self.type == "http" and self.request is None:
            raise ValueError("an http action needs `request`")
        if self.type == "lambda":
            if not self.function_name:
                raise ValueError("a lambda action needs `function_name`")
            if self.request is not None:
                raise ValueError("a lambda action takes no `request` (the function receives the state)")
            if self.secrets:
                raise ValueError("a lambda action takes no `secrets` (its function reads its own)")
        unmapped = [key for key in self.required if key not in self.result]
        if unmapped:
            raise ValueError(f"required keys {unmapped} have no expression in `result`")
        if self.request is not None:
            self._check_placeholders(self.request)
        return self

    def _check_placeholders(self, request: HttpRequestSpec) -> None:
        """Catch typos at save time: unknown roots, undeclared secrets and unknown parameters."""
        templates = {
            "request.url": request.url,
            "request.headers": request.headers,
            "request.query": request.query,
            "request.json_body": request.json_body,
        }
        for where, template in templates.items():
            for path in placeholders(template):
                root, _, rest = path.partition(".")
                first = rest.split(".", 1)[0]
                if root not in TEMPLATE_ROOTS:
                    roots = ", ".join(TEMPLATE_ROOTS)
                    raise ValueError(f"{where}: placeholder {{{path}}} must start with one of {roots}")
                if not rest:
                    raise ValueError(f"{where}: placeholder {{{path}}} names a whole block, not a value")
                if root == "secrets" and first not in self.secrets:
                    raise ValueError(f"{where}: placeholder {{{path}}} uses a secret not declared in `secrets`")
                if root == "params" and first not in self.params:
                    raise ValueError(f"{where}: placeholder {{{path}}} uses a parameter not set in `params`")


class EnrichmentResult(BaseModel):
    """What an action found: the known keys the workflow acts on, and any other mapped key in ``extra``."""

    model_config = ConfigDict(extra="forbid")

    operator_email: str | None = None
    topic: str | None = None
    recording_url: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class ActionRunRequest(BaseModel):
    """The request as sent, with every secret shown as ``***`` (safe to print, store and log)."""

    model_config = ConfigDict(extra="forbid")

    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class ActionRun(BaseModel):
    """One run of an action: what the CLI's ``action test`` prints and what the dialog keeps."""

    model_config = ConfigDict(extra="forbid")

    action_id: str
    type: Literal["http", "lambda"]
    request: ActionRunRequest
    status_code: int
    elapsed_ms: int = Field(ge=0)
    result: EnrichmentResult
