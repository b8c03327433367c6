"""`callhook`: configure channels, operators, topics, actions and settings; follow dialogs, raw events and executions.

    callhook [--local | --stack NAME | --env dev|prod] [--profile P] [--region R] [--json] [--show-secrets] COMMAND

Exit status 0 on success; on failure 1 (or 2 for a usage error) with a one-line reason on stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from callhook.observability import logger
from callhook_cli import config_commands, dialog_commands, dlq_commands, preset_commands
from callhook_cli.context import State, program, state
from callhook_cli.errors import FAILURE, USAGE, CliError, Translation, translate
from callhook_cli.output import Output
from callhook_cli.target import TargetOptions

try:  # Typer >= 0.22 vendors click; before, it used the click package
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older Typer
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

# Boolean global options may also follow the command (`callhook dialog get D --json`): they are moved in front.
GLOBAL_FLAGS = ("--json", "--local", "--show-secrets")


class CallhookGroup(TyperGroup):
    """The root command: global flags anywhere, and every failure below it reported as one line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        head, tail = (args[: args.index("--")], args[args.index("--") :]) if "--" in args else (args, [])
        flags = [a for a in head if a in GLOBAL_FLAGS]
        try:
            return super().parse_args(ctx, flags + [a for a in head if a not in GLOBAL_FLAGS] + tail)
        except UsageError as exc:
            _fail(ctx, exc)
            raise  # unreachable: _fail exits

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # the one place every failure becomes a one-line reason
            _fail(ctx, exc)


def _fail(ctx: Any, exc: BaseException) -> None:
    """Print the reason as one line on stderr (with --json, validation problems as JSON on stdout too) and exit
    non-zero."""
    out = ctx.obj.out if isinstance(ctx.obj, State) else Output()
    if isinstance(exc, UsageError):
        path = exc.ctx.command_path.split(" ", 1)[1:] if exc.ctx else []
        hint = f" (see `{' '.join([program(), *path])} --help`)" if exc.ctx else ""
        message, code = exc.format_message() + hint, USAGE
    elif isinstance(exc, ClickException):
        message, code = exc.format_message(), exc.exit_code
    else:
        translation = translate(exc)
        if translation is None:
            if os.environ.get("CALLHOOK_DEBUG"):
                raise exc
            translation = Translation(f"internal error ({type(exc).__name__}: {exc}); set CALLHOOK_DEBUG=1 to see "
                                      "the traceback")
        message, code, problems = translation.message, translation.exit_code, translation.problems
        if problems and out.json_mode:  # scripts get each problem apart; people get the one line below
            out.print_json({"error": message,
                            "problems": [{"path": p.path, "message": p.message} for p in problems]})
    typer.echo(f"Error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=CallhookGroup,
    name="callhook",
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


@app.callback()
def root(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local", help="Target the local stack (`make run`) on "
                                        "127.0.0.1:$CALLHOOK_AWS_PORT (default 5000).")] = False,
    stack: Annotated[str | None, typer.Option("--stack", envvar="CALLHOOK_STACK", show_envvar=True,
                                              help="CloudFormation stack name (default: samconfig.toml's stack_name "
                                                   "for --env; callhook-local with --local).")] = None,
    env: Annotated[str | None, typer.Option("--env", help="samconfig.toml environment: dev or prod "
                                            "(default dev).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE / "
                                                "samconfig.toml / default).")] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region (default: samconfig.toml / "
                                               "AWS configuration).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print tokens and signature secrets "
                                               "instead of masking them.")] = False,
) -> None:
    if local and (env or profile or region):
        raise CliError("--local cannot be combined with --env, --profile or --region", exit_code=USAGE)
    ctx.obj = State(options=TargetOptions(local=local, stack=stack, env=env, profile=profile, region=region),
                    out=Output(json_mode=json_output, show_secrets=show_secrets))


@app.command("target")
def show_target(ctx: typer.Context) -> None:
    """Show the stack the other commands would use, and its outputs."""
    st = state(ctx)
    target = st.target()
    st.out.emit(target.describe(), lambda: st.out.fields(
        f"stack {target.stack_name}", [("local", target.local), ("region", target.region),
                                       ("endpoint", target.endpoint_url or "AWS"),
                                       *sorted(target.outputs.items())]))


config_commands.register(app)
dialog_commands.register(app)
dlq_commands.register(app)
preset_commands.register(app)


def quiet_service_logs() -> None:
    """The services log for Lambda (JSON on stdout); in a terminal that would mix with the output, and `--json`
    output must be one document. Their warnings go to stderr (CALLHOOK_LOG_LEVEL=INFO shows everything)."""
    logger.setLevel(os.environ.get("CALLHOOK_LOG_LEVEL", "WARNING").upper())
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)


def main() -> int:
    """The console script."""
    quiet_service_logs()
    try:
        app(prog_name="callhook")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else FAILURE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
