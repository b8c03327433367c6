"""Which callhook stack a command talks to: one resolver for every command, local or deployed.

Both targets are read the same way, from a CloudFormation stack's Outputs (template.yaml declares them: the table
names, the state machine ARN, the bucket, the webhook URL):

* deployed: the stack named by ``--stack``, else ``stack_name`` of ``--env`` (default ``dev``) in samconfig.toml
  (found in the working directory or a parent), else ``callhook-<env>``; with the usual AWS profile and region
  (``--profile``/``--region``, else samconfig's ``region``/``profile``, else the AWS configuration).
* ``--local``: the local stack on ``http://127.0.0.1:$CALLHOOK_AWS_PORT`` (default 5000). The local stack creates
  its resources directly in moto, then publishes their names as a CloudFormation stack of the same name holding
  only those Outputs (local/callhook_local/stack.py), so nothing here guesses physical names. Its default name is
  ``callhook-local`` (what ``make run`` starts).

``CALLHOOK_STACK`` sets the default of ``--stack``. Resolution exports the environment the functions themselves
get (CHANNELS_TABLE, ..., STATE_MACHINE_ARN, and AWS_ENDPOINT_URL for --local), so the CLI reuses the callhook
repositories and services unchanged, with settings from ``callhook.settings.load_settings``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from callhook import aws
from callhook.settings import IngestSettings, clear_settings_cache, load_settings
from callhook_cli.errors import CliError

LOCAL_STACK_NAME = "callhook-local"
LOCAL_REGION = "us-east-1"
DEFAULT_LOCAL_PORT = 5000
DEFAULT_ENV = "dev"
SAMCONFIG = "samconfig.toml"

# template.yaml Output -> the environment variable the functions read it from.
OUTPUT_ENVIRONMENT: dict[str, str] = {
    "ChannelsTable": "CHANNELS_TABLE",
    "DialogsTable": "DIALOGS_TABLE",
    "EventsTable": "EVENTS_TABLE",
    "OperatorsTable": "OPERATORS_TABLE",
    "TopicsTable": "TOPICS_TABLE",
    "ActionsTable": "ACTIONS_TABLE",
    "SettingsTable": "SETTINGS_TABLE",
    "RecordingsBucket": "RECORDINGS_BUCKET",
    "StateMachineArn": "STATE_MACHINE_ARN",
}
REQUIRED_OUTPUTS = (*OUTPUT_ENVIRONMENT, "WebhookUrl")
_NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=10)


@dataclass(frozen=True)
class TargetOptions:
    """The global options that choose the target."""

    local: bool = False
    stack: str | None = None
    env: str | None = None
    profile: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Target:
    """A resolved stack: where it is and what its Outputs say."""

    stack_name: str
    local: bool
    region: str | None
    endpoint_url: str | None
    outputs: dict[str, str]

    @property
    def settings(self) -> IngestSettings:
        return load_settings(IngestSettings)

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    def webhook_url(self, channel_id: str) -> str:
        """The URL to give the provider (the WebhookUrl output + /webhooks/<channel_id>)."""
        return f"{self.outputs['WebhookUrl'].rstrip('/')}/webhooks/{quote(channel_id, safe='')}"

    def describe(self) -> dict[str, Any]:
        return {"stack": self.stack_name, "local": self.local, "region": self.region, "endpoint_url": self.endpoint_url,
                "outputs": self.outputs}


def find_samconfig(start: Path | None = None) -> Path | None:
    """samconfig.toml in the working directory or the nearest parent (as `sam` finds it from a subdirectory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / SAMCONFIG
        if candidate.is_file():
            return candidate
    return None


def samconfig_parameters(path: Path | None, env: str) -> dict[str, Any]:
    """`stack_name`, `region`, `profile` of one config-env: its deploy parameters over its global ones."""
    if path is None:
        return {}
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    section = config.get(env)
    if not isinstance(section, dict):
        envs = sorted(k for k, v in config.items() if isinstance(v, dict))
        raise CliError(f"{path} has no environment {env!r} (it has: {', '.join(envs) or 'none'})")
    merged: dict[str, Any] = {}
    for command in ("global", "deploy"):
        merged |= section.get(command, {}).get("parameters", {})
    return merged


def resolve(options: TargetOptions) -> Target:
    """Find the stack, read its Outputs and point this process's AWS clients and settings at it.

    Raises:
        CliError: the stack or the local stack cannot be found, or lacks callhook's Outputs.
    """
    region: str | None
    if options.local:
        port = os.environ.get("CALLHOOK_AWS_PORT", str(DEFAULT_LOCAL_PORT))
        local_endpoint = f"http://127.0.0.1:{port}"
        endpoint: str | None = local_endpoint
        stack, region = options.stack or LOCAL_STACK_NAME, LOCAL_REGION
        _export({"AWS_ENDPOINT_URL": local_endpoint, "AWS_REGION": LOCAL_REGION, "AWS_DEFAULT_REGION": LOCAL_REGION,
                 "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},  # moto takes any credentials
                remove=("AWS_PROFILE", "AWS_SESSION_TOKEN"))
    else:
        env = options.env or DEFAULT_ENV
        params = samconfig_parameters(find_samconfig(), env)
        stack = options.stack or params.get("stack_name") or f"callhook-{env}"
        region = options.region or params.get("region")
        profile = options.profile or params.get("profile")
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        _export({k: v for k, v in {"AWS_PROFILE": profile, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}.items()
                 if v})
    outputs = _stack_outputs(stack, endpoint if options.local else None)
    _export({var: outputs[name] for name, var in OUTPUT_ENVIRONMENT.items()})
    clear_settings_cache()
    return Target(stack_name=stack, local=options.local, region=region or _session_region(), endpoint_url=endpoint,
                  outputs=outputs)


def _stack_outputs(stack: str, local_endpoint: str | None) -> dict[str, str]:
    # Locally a refused connection is final: one attempt, so that "no local stack" comes at once, not after retries.
    cfn = boto3.session.Session().client("cloudformation", config=_NO_RETRY) if local_endpoint else \
        aws.client("cloudformation")
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except EndpointConnectionError as exc:
        if local_endpoint:
            raise CliError(f"no local stack at {local_endpoint}: start it with `make run` (or set CALLHOOK_AWS_PORT "
                           "to its AWS port)") from exc
        raise
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            where = f"the local stack at {local_endpoint}" if local_endpoint else f"region {_session_region()}"
            hint = "pass --stack NAME (or set CALLHOOK_STACK)" if local_endpoint else \
                "deploy it (`make deploy ENV=dev`), or pass --stack / --env / --region, or --local"
            raise CliError(f"stack {stack!r} not found in {where}: {hint}") from exc
        raise
    description = found[0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise CliError(f"stack {stack!r} ({description.get('StackStatus')}) lacks the output(s) {', '.join(missing)}: "
                       "is it a callhook stack, and is its deployment complete?")
    return outputs


def _session_region() -> str | None:
    return boto3.session.Session().region_name  # what the AWS configuration resolves (env, profile, config file)


def _export(values: dict[str, str], remove: tuple[str, ...] = ()) -> None:
    """Set process environment variables; AWS clients are rebuilt only when something they read changed."""
    changed = any(os.environ.get(k) != v for k, v in values.items()) or any(k in os.environ for k in remove)
    os.environ.update(values)
    for name in remove:
        os.environ.pop(name, None)
    if changed and any(k.startswith("AWS_") for k in (*values, *remove)):
        aws.reset_clients()
