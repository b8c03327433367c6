"""Action Jail items (docs/items.md) and what running one reports.

An action is admin-authored configuration that turns into outbound traffic, so the model is strict
(``extra="forbid"``): a typo in a key, a bad JMESPath, an undeclared secret or a placeholder with an unknown root
fails when the item is read (``callhook action put``), not in the middle of a call.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from callhook.models.grants import check_action_function
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


class _ActionBase(BaseModel):
    """What every Action Jail item has: an id, parameters, a result mapping and its limits."""

    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, JMESPathExpression] = Field(default_factory=dict)
    # Nothing is required unless the admin says so: an enrichment without an email is a success (assignment falls
    # back to the webhook's own operator fields, docs/workflow.md), so only a listed key turns an empty match into a
    # failure.
    required: list[str] = Field(default_factory=list)
    allow_private_network: bool = False
    max_response_bytes: int = Field(default=1_048_576, gt=0, le=16 * 1_048_576)
    version: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_required(self) -> Self:
        unmapped = [key for key in self.required if key not in self.result]
        if unmapped:
            raise ValueError(f"required keys {unmapped} have no expression in `result`")
        return self


class HttpAction(_ActionBase):
    """`"type": "http"` (the default): a request built from the state, its parameters and secrets."""

    type: Literal["http"] = "http"
    secrets: dict[str, SecretReference] = Field(default_factory=dict)
    request: HttpRequestSpec

    @property
    def target(self) -> str:
        """Where the action goes, for people: `GET https://pbx.example.com/calls/{telephony.call_id}`."""
        return f"{self.request.method} {self.request.url}"

    @model_validator(mode="before")
    @classmethod
    def _explain_missing_request(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("request") is None:
            raise ValueError("an http action needs `request`")
        return data

    @model_validator(mode="after")
    def _check_placeholders(self) -> Self:
        """Catch typos at save time: unknown roots, undeclared secrets and unknown parameters."""
        templates = {
            "request.url": self.request.url,
            "request.headers": self.request.headers,
            "request.query": self.request.query,
            "request.json_body": self.request.json_body,
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
        return self


class LambdaAction(_ActionBase):
    """`"type": "lambda"`: the named function receives the state and answers JSON."""

    type: Literal["lambda"]
    function_name: str = Field(min_length=1)

    @field_validator("function_name")
    @classmethod
    def _invokable(cls, function_name: str) -> str:
        return check_action_function(function_name)

    @property
    def target(self) -> str:
        return f"lambda:{self.function_name}"

    @property
    def secrets(self) -> dict[str, str]:
        """None: the function reads its own (so both kinds answer `secrets`)."""
        return {}

    @model_validator(mode="before")
    @classmethod
    def _explain_http_fields(cls, data: Any) -> Any:
        """The keys of an http action, named with why a lambda action has none (rather than "extra inputs")."""
        if isinstance(data, dict):
            if not data.get("function_name"):
                raise ValueError("a lambda action needs `function_name`")
            if data.get("request") is not None:
                raise ValueError("a lambda action takes no `request` (the function receives the state)")
            if data.get("secrets"):
                raise ValueError("a lambda action takes no `secrets` (its function reads its own)")
        return data


ActionType = Literal["http", "lambda"]
ACTION_TYPES: tuple[ActionType, ...] = ("http", "lambda")


def _action_type(value: Any) -> str | None:
    """The discriminator: `type`, which an item may leave out for `http` (docs/items.md)."""
    if isinstance(value, dict):
        return str(value.get("type", "http"))
    return getattr(value, "type", None)


Action = Annotated[
    Annotated[HttpAction, Tag("http")] | Annotated[LambdaAction, Tag("lambda")],
    Discriminator(_action_type),
]
"""An Action Jail item (docs/items.md): `HttpAction | LambdaAction`, told apart by `type`; parse with `parse_action`."""

_ACTIONS: TypeAdapter[HttpAction | LambdaAction] = TypeAdapter(Action)


def parse_action(data: Any) -> HttpAction | LambdaAction:
    """The action an item (a dict as stored, or JSON) describes.

    Errors name the item's own field paths (`request.url`, `type`), as a single model's would: pydantic puts the
    union's tag in front of each path, which this drops.

    Raises:
        pydantic.ValidationError: titled `Action`, one error per problem.
    """
    try:
        return _ACTIONS.validate_python(data)
    except ValidationError as exc:
        raise ValidationError.from_exception_data("Action", [_without_tag(e) for e in exc.errors()]) from None


def _without_tag(error: ErrorDetails) -> InitErrorDetails:
    if error["type"] == "union_tag_invalid":
        expected = " or ".join(repr(t) for t in ACTION_TYPES)
        return {"type": "literal_error", "loc": ("type",), "input": error["input"].get("type"),
                "ctx": {"expected": expected}}
    if error["type"] == "union_tag_not_found":
        return {"type": "model_type", "loc": (), "input": error["input"], "ctx": {"class_name": "Action"}}
    return {"type": error["type"], "loc": error["loc"][1:], "input": error["input"], **(
        {"ctx": error["ctx"]} if "ctx" in error else {})}  # type: ignore[typeddict-item]


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
    type: ActionType
    request: ActionRunRequest
    status_code: int
    elapsed_ms: int = Field(ge=0)
    result: EnrichmentResult
