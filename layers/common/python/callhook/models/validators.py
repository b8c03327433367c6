"""The checks an admin-written value must pass, shared by every model that holds one (channel, action, preset).

They are the very checks the webhook path and the workflow apply when they use the value, so an item that saves
is an item that works, whoever saved it (CLI or DynamoDB console; the console's writes are checked by the
CheckConfig function on the tables' streams and by `callhook channel check` / `action check`):

* JMESPath expressions: :func:`callhook.mapping.functions.validate_expression`, which knows callhook's extra
  functions (`to_iso`, `map_value`, ...) and their number of arguments, as ingest evaluates them.
* Time zones: :func:`callhook.mapping.functions.validate_timezone`, the one rule for `advanced_config.timezone` and
  the `tz` argument of `to_iso`: an IANA name (`Europe/Kyiv`), `UTC`, or a fixed offset (`+03:00`, `-0530`).
* Secret references: `KIND:NAME` with KIND one of the kinds the reader of that value resolves (actions:
  `ssm:` and `secretsmanager:`; a signature secret: `ssm:` or the value itself), a non-empty NAME, and a NAME the
  stack's roles may read (callhook.models.grants).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from callhook.mapping.functions import validate_expression, validate_timezone
from callhook.models.grants import check_granted_secret

SECRET_KINDS: tuple[str, ...] = ("ssm:", "secretsmanager:")


def check_expression(expr: str) -> str:
    """Raises ValueError saying why `expr` cannot be evaluated (syntax, unknown function, wrong arity)."""
    problem = validate_expression(expr)
    if problem:
        raise ValueError(problem)
    return expr


def check_optional_expression(expr: str | None) -> str | None:
    """A condition (`accept_when`, `update_when`): None or blank means no condition."""
    if expr is None or not expr.strip():
        return None
    return check_expression(expr)


def check_timezone(name: str | None) -> str | None:
    problem = validate_timezone(name)
    if problem:
        raise ValueError(problem)
    return name


def check_secret_reference(reference: str, kinds: tuple[str, ...] = SECRET_KINDS) -> str:
    """Raises ValueError unless `reference` is `KIND:NAME` with a kind of `kinds` and a name."""
    kind = next((k for k in kinds if reference.startswith(k)), None)
    if kind is None:
        raise ValueError(f"secret reference {reference!r} must start with one of {', '.join(kinds)}")
    if not reference[len(kind):].strip():
        raise ValueError(f"secret reference {reference!r} names no parameter or secret")
    return check_granted_secret(reference)


def looks_like_reference(value: str) -> bool:
    """Whether a value is meant as a reference (any known kind), rather than a secret given as is."""
    return value.startswith(SECRET_KINDS)


JMESPathExpression = Annotated[str, AfterValidator(check_expression)]
SecretReference = Annotated[str, AfterValidator(check_secret_reference)]
