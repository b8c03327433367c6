"""The README's "Admin walkthrough", run command by command against the local stack.

`WALKTHROUGH` is the section's text for the README; once README.md has the section, the test runs the README's own
commands instead. The `callhook` lines run through the real entry point; the provider's `curl` runs as written.
Only the environment differs from a person's terminal: the session's ports instead of 3000/5000, and
`$TOKEN`/`$DIALOG_ID` taken from the previous commands' output, as the reader copies them.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from tests.integration.test_cli_support import ROOT, Cli
from tests.support.stack import StackClient

WALKTHROUGH = """\
## Admin walkthrough

Against the local stack of `make run` (for a deployed stack, drop `--local`: the stack comes from
`samconfig.toml`, `--env dev|prod`, with your AWS profile and region).

1. **Create a channel.** Write the item (CONTRACT §3) without a `webhook_token`: one is generated. Add the operator
   the provider will name.

   ```sh
   cat > main.json <<'EOF'
   {"channel_id": "main", "name": "Main telephony",
    "advanced_config": {"field_mapping": {"call_id": "CallSid", "caller": "From", "callee": "To",
                                          "status": "CallStatus", "operator_email": "AgentEmail"}}}
   EOF
   .venv/bin/callhook --local channel put main.json
   .venv/bin/callhook --local operator put --user-id 21 --email dana@example.com --name Dana
   ```

2. **Point the provider at it.** `channel put` printed the webhook URL. Secrets are masked unless you ask:

   ```sh
   .venv/bin/callhook --local --show-secrets channel get main
   ```

   Give the provider the URL with `?token=<webhook_token>` (or the token in header `X-Webhook-Token`). Its calls
   then arrive like this one:

   ```sh
   curl -s "http://127.0.0.1:3000/webhooks/main?token=$TOKEN" \\
     -d CallSid=CA100 -d From=+12025550143 -d To=+12025550100 \\
     -d CallStatus=completed -d AgentEmail=Dana@Example.com
   ```

3. **Read the dialog** (`--json` gives any command's output as JSON):

   ```sh
   .venv/bin/callhook --local dialog find --channel main --call-id CA100
   .venv/bin/callhook --local dialog list --channel main --since 1h
   ```

4. **Explain it**: each of the seed's common problems, whether it applies and the evidence; then the execution,
   state by state:

   ```sh
   .venv/bin/callhook --local dialog explain $DIALOG_ID
   .venv/bin/callhook --local execution history $DIALOG_ID
   ```
"""

CALLHOOK = ".venv/bin/callhook "


def commands(markdown: str) -> list[str]:
    """The walkthrough's commands in order: callhook and curl lines, and the file its heredoc writes."""
    found, heredoc, lines = [], None, []
    for raw in markdown.splitlines():  # join `\`-continued lines
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1].rstrip() + " " + raw.strip()
        else:
            lines.append(raw.strip())
    for line in lines:
        if heredoc is not None:
            if line == "EOF":
                found.append("WRITE " + heredoc[0] + "\n" + "\n".join(heredoc[1:]))
                heredoc = None
            else:
                heredoc.append(line)
        elif line.startswith("cat > "):
            heredoc = [line.split()[2]]
        elif line.startswith((CALLHOOK, "curl ")):
            found.append(line)
    return found


def walkthrough() -> str:
    """The README's section once it is there (so the test runs what readers read), else WALKTHROUGH."""
    readme = (ROOT / "README.md").read_text()
    if "## Admin walkthrough" not in readme:
        return WALKTHROUGH
    return "## Admin walkthrough" + readme.split("## Admin walkthrough", 1)[1].split("\n## ", 1)[0]


def test_admin_walkthrough_runs_as_written(stack: StackClient, tmp_path: Path) -> None:
    assert shutil.which("curl"), "the walkthrough's provider step uses curl"
    cli = Cli(stack.stack)
    values: dict[str, str] = {}
    outputs = []
    for command in commands(walkthrough()):
        if command.startswith("WRITE "):
            name, _, content = command.removeprefix("WRITE ").partition("\n")
            (tmp_path / name).write_text(content)
            continue
        text = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], command)
        if text.startswith("curl "):
            text = text.replace("http://127.0.0.1:3000", stack.stack.api_url)
            answer = subprocess.run(shlex.split(text), capture_output=True, text=True, timeout=30, check=True)
            assert '"status": "accepted"' in answer.stdout.replace('":"', '": "'), answer.stdout
            _wait_for_assignment(stack, answer.stdout)
            continue
        argv = [a if not (tmp_path / a).exists() else str(tmp_path / a) for a in shlex.split(text)[1:]]
        assert argv[0] == "--local"
        outcome = cli.run(*argv[1:])
        assert outcome.exit_code == 0, (command, outcome.stderr)
        outputs.append((command, outcome.stdout))
        if (token := re.search(r'"webhook_token": "([^"*]+)"', outcome.stdout)) is not None:
            values["TOKEN"] = token.group(1)
        if " dialog find " in command:
            values["DIALOG_ID"] = re.search(r'"dialog_id": "(d-[a-z0-9]+)"', outcome.stdout).group(1)  # type: ignore[union-attr]
    # Then what each step promised is on screen
    by_command = dict(outputs)
    assert f"{stack.stack.api_url}/webhooks/main" in by_command[".venv/bin/callhook --local channel put main.json"]
    found = by_command[".venv/bin/callhook --local dialog find --channel main --call-id CA100"]
    assert '"operator_id": 21' in found
    explained = by_command[".venv/bin/callhook --local dialog explain $DIALOG_ID"]
    assert "✓ no  Operator was not assigned" in explained
    assert "enrichment_disabled" in explained  # topics come from an enrich action, which this channel has not
    assert values["DIALOG_ID"] in by_command[".venv/bin/callhook --local execution history $DIALOG_ID"]
    erase = ".venv/bin/callhook --local dialog erase --channel main --phone +12025550143"
    if erase in by_command:  # step 5: the caller's dialog is gone, a record says so
        assert values["DIALOG_ID"] in by_command[erase + " --dry-run"]
        assert "erasure er-" in by_command[erase]
        assert stack.dialog(values["DIALOG_ID"]) is None


def _wait_for_assignment(stack: StackClient, answer: str, timeout: float = 30) -> None:
    dialog_id = re.search(r'"dialog_id":\s*"(d-[a-z0-9]+)"', answer).group(1)  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    while (dialog := stack.dialog(dialog_id)) is None or dialog.assignment.status == "pending":
        assert time.monotonic() < deadline, f"{dialog_id} not assigned after {timeout}s"
        time.sleep(0.05)
