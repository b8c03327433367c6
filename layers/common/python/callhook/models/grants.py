"""What the deployed stack's roles may reach, as admin-written configuration must respect it (template.yaml grants
exactly these; tests/unit/test_grants.py reads the template and holds the two together).

* A `type: "lambda"` action's function: Enrich may invoke only functions named `callhook-action-*` in its own
  account and region (`InvokeActionFunctions`).
* A secret reference: the functions that read secrets (Ingest: signatures; Enrich: actions; KeepRecording: recording
  credentials) may read Parameter Store parameters under `/callhook/` and Secrets Manager secrets named `callhook/...`.

A value outside these is refused when the item is saved or checked, with the rule in the reason: AWS would deny the
call only at run time, in the middle of a call.
"""

from __future__ import annotations

ACTION_FUNCTION_PREFIX = "callhook-action-"
SECRET_PATH = "callhook/"


def action_function_name(function: str) -> str:
    """The function's name in any form Lambda's Invoke takes: name, `name:qualifier`, `ACCOUNT:function:name`, or
    the (partial) ARN."""
    parts = function.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1] if parts.index("function") + 1 < len(parts) else ""
    return parts[0]


def check_action_function(function: str) -> str:
    """Raises ValueError unless Enrich's role may invoke `function`."""
    if not action_function_name(function).startswith(ACTION_FUNCTION_PREFIX):
        raise ValueError(f"function {function!r} is not one Enrich may invoke: the stack grants "
                         f"lambda:InvokeFunction on functions named {ACTION_FUNCTION_PREFIX}* only")
    return function


def check_granted_secret(reference: str) -> str:
    """Raises ValueError unless the functions' roles may read the secret `reference` names (`ssm:NAME` or
    `secretsmanager:NAME`, the name or ARN); a value that is no reference passes (its own checks apply)."""
    kind, _, name = reference.partition(":")
    if kind == "ssm":
        resource = name.split(":parameter", 1)[1] if name.startswith("arn:") and ":parameter" in name else name
        if not resource.startswith(f"/{SECRET_PATH}"):
            raise ValueError(f"secret reference {reference!r} is outside what the stack may read: Parameter Store "
                             f"parameters under /{SECRET_PATH} only (e.g. 'ssm:/{SECRET_PATH}NAME')")
    elif kind == "secretsmanager":
        resource = name.split(":secret:", 1)[1] if name.startswith("arn:") and ":secret:" in name else name
        if not resource.startswith(SECRET_PATH):
            raise ValueError(f"secret reference {reference!r} is outside what the stack may read: Secrets Manager "
                             f"secrets named {SECRET_PATH}... only (e.g. 'secretsmanager:{SECRET_PATH}NAME')")
    return reference
