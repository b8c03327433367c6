"""One-line failures: every exception a user can cause becomes a short reason and an exit code, never a traceback.

Exit codes: 0 success, 1 failure (the reason is the last line on stderr), 2 usage error (bad option or argument).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from pydantic import ValidationError

from callhook.errors import ActionError, CallhookError, DependencyUnavailableError
from callhook.models.problems import problems_of
from callhook_admin.services.config import VersionConflictError

FAILURE = 1
USAGE = 2


@dataclass
class Problem:
    """One validation problem, with the field path it concerns (what `put` prints for each)."""

    path: str
    message: str


class CliError(Exception):
    """A failure to report as one line. ``problems`` (validation) are printed as the command's output first."""

    def __init__(self, message: str, *, exit_code: int = FAILURE, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the source text looked like
        self.exit_code = exit_code
        self.problems = problems or []


@dataclass
class Translation:
    message: str
    exit_code: int = FAILURE
    problems: list[Problem] = field(default_factory=list)


def validation_problems(exc: ValidationError, model: Any = None) -> list[Problem]:
    """callhook.models.problems' wording (the one CheckConfig logs and `check` prints), with its "did you mean"
    for a misspelt field when the validated `model` is known."""
    return [Problem(path=p.path, message=p.message) for p in problems_of(exc, model)]


def invalid(what: str, exc: ValidationError, model: Any = None) -> CliError:
    """Every problem with its field path, in one line and as a list (`--json`)."""
    problems = validation_problems(exc, model)
    joined = "; ".join(f"{p.path}: {p.message}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return CliError(f"{what} is invalid ({len(problems)} {noun}): {joined}", problems=problems)


def translate(exc: BaseException) -> Translation | None:
    """The user-facing reason for an exception we expect; None for a bug (reported as an internal error)."""
    if isinstance(exc, CliError):
        return Translation(exc.message, exc.exit_code, exc.problems)
    if isinstance(exc, ValidationError):
        err = invalid(exc.title, exc)
        return Translation(err.message, FAILURE, err.problems)
    if isinstance(exc, VersionConflictError):
        return Translation(f"version conflict: {exc}; read the item again and re-apply your change")
    if isinstance(exc, ActionError):
        return Translation(f"{exc.code}: {exc.message}")
    if isinstance(exc, DependencyUnavailableError):
        return Translation(f"temporarily unavailable: {exc}")
    if isinstance(exc, CallhookError):
        return Translation(str(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Translation("no AWS credentials: set AWS_PROFILE or pass --profile, run `aws configure` or "
                           "`aws sso login`, or use --local for the local stack")
    if isinstance(exc, ProfileNotFound):
        return Translation(f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(exc, NoRegionError):
        return Translation("no AWS region: pass --region, set AWS_REGION, or set `region` in samconfig.toml")
    if isinstance(exc, EndpointConnectionError):
        return Translation(f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        if code in {"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId"}:
            return Translation(f"AWS rejected the credentials ({code}): refresh them (`aws sso login`) or pick "
                               "another --profile")
        return Translation(f"AWS {exc.operation_name} failed: {code}: {message}")
    if isinstance(exc, BotoCoreError):
        return Translation(f"AWS call failed: {exc}")
    if isinstance(exc, OSError):
        return Translation(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    return None
