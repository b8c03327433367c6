"""The commands the README and `make run` print, run as a person pastes them: in bash, against the local stack.

README.md's "Admin walkthrough": its `sh` blocks in order, in one bash session (its variables carry from block to
block, as in a terminal), each block checked for a zero exit and for what its step promises. Between blocks the
test waits as a reader does for the dialog to be decided. The environment is a clean terminal's (no venv
activated, no AWS settings), but for where the session's stack is: `CALLHOOK_AWS_PORT` and `CALLHOOK_STACK`, and
its webhook port instead of 3000.

`make run`'s banner: its curl, callhook and aws lines, for a stack on other ports than the defaults, run as printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhook.models.dialog import make_dialog_id
from callhook_local.demo import banner
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import ROOT
from tests.support.stack import StackClient

DONE = "__block_done__"


def section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def sh_blocks(markdown: str) -> list[str]:
    """Every ```sh block, its list-item indentation removed."""
    return [textwrap.dedent(m.group(2)) for m in re.finditer(r"^( *)```sh\n(.*?)^\1```$", markdown, re.M | re.S)]


def clean_env(home: Path) -> dict[str, str]:
    """A fresh terminal: no venv on PATH, no AWS configuration or credentials."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb"}


class Terminal:
    """One bash session (`set -eo pipefail`: any failing command ends it): blocks sent in turn, each answered with
    its output and exit status. A block runs from a file with stdin closed, as typed commands read no script."""

    def __init__(self, cwd: Path, env: dict[str, str], scripts: Path) -> None:
        self.scripts = scripts
        self.count = 0
        self.process = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=cwd, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._send("set -eo pipefail")

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def run(self, block: str) -> tuple[int, str]:
        assert self.process.stdout is not None
        self.count += 1
        script = self.scripts / f"block-{self.count}.sh"
        script.write_text(block)
        # The marker on a line of its own: a command's output may not end with a newline (curl's does not).
        self._send(f"source {script} </dev/null; printf '\\n%s %s\\n' {DONE} $?")
        lines = []
        for line in self.process.stdout:
            if line.startswith(DONE):
                return int(line.split()[1]), "".join(lines)
            lines.append(line)
        return self.process.wait(), "".join(lines)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def terminal(stack: StackClient, tmp_path: Path) -> Iterator[Terminal]:
    """A terminal in a copy of the repository's root as far as the walkthrough needs it (its venv), so that the
    files it writes land in a temporary directory."""
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = clean_env(tmp_path) | {"CALLHOOK_AWS_PORT": str(stack.stack.aws_port), "CALLHOOK_STACK": stack.stack.name}
    (tmp_path / "blocks").mkdir()
    shell = Terminal(tmp_path, env, tmp_path / "blocks")
    yield shell
    shell.close()


def wait_decided(stack: StackClient, channel_id: str, call_id: str, timeout: float = 60) -> None:
    dialog_id = make_dialog_id(channel_id, call_id)
    deadline = time.monotonic() + timeout
    while (dialog := stack.dialog(dialog_id)) is None or dialog.workflow.status in ("pending", "running"):
        assert time.monotonic() < deadline, f"{dialog_id} still running after {timeout}s"
        time.sleep(0.1)


def test_the_readme_walkthrough_runs_as_written(stack: StackClient, terminal: Terminal) -> None:
    assert shutil.which("curl"), "the walkthrough's provider step uses curl"
    blocks = sh_blocks(section((ROOT / "README.md").read_text(), "Admin walkthrough"))
    assert len(blocks) >= 7, blocks
    outputs = []
    for block in blocks:
        code, output = terminal.run(block.replace("http://127.0.0.1:3000", stack.stack.api_url))
        assert code == 0, f"{block}\n---\n{output}"
        assert "Error:" not in output and "Traceback" not in output, f"{block}\n---\n{output}"
        outputs.append((block, output))
        if block.lstrip().startswith("curl "):
            assert '"status": "accepted"' in output.replace('":"', '": "'), output
            wait_decided(stack, "main", "CA100")
    text = {block.strip().splitlines()[0]: output for block, output in outputs}
    # What each step promises is on screen
    assert f"{stack.stack.api_url}/webhooks/main" in text["cat > main.json <<'EOF'"]
    assert "(generated)" in text["cat > main.json <<'EOF'"]
    found = text["callhook --local dialog find --channel main --call-id CA100"]
    assert '"operator_id": 21' in found
    explained = text["callhook --local dialog explain $DIALOG_ID"]
    assert "✓ no  Operator was not assigned" in explained
    assert "enrichment_disabled" in explained  # topics come from an enrich action, which this channel has not
    erased = text["callhook --local dialog erase --channel main --phone +12025550143 --dry-run"]
    assert "would erase 1 dialog(s)" in erased
    assert "erasure er-" in erased
    assert stack.dialog(re.search(r"d-[a-z0-9]+", explained).group(0)) is None  # type: ignore[union-attr]


def test_make_run_banner_commands_run_as_pasted(stack: StackClient, demo: FakePBX, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    # Given the banner of a stack on other ports than 3000/5000 (and, here, another stack name)
    printed = banner(stack.stack, demo.url)
    assert f"CALLHOOK_AWS_PORT={stack.stack.aws_port} .venv/bin/callhook --local --stack {stack.stack.name}" \
        in printed
    assert "stopping it loses every dialog" in printed
    lines = [line.strip() for line in printed.splitlines()]
    curl = next(line for line in lines if line.startswith("curl "))
    look = lines[lines.index("Then look at it:") + 1:][:2]
    # When each is pasted into a fresh terminal at the repository's root
    shell = Terminal(ROOT, clean_env(tmp_path), tmp_path)
    try:
        code, answer = shell.run(curl)
        assert code == 0 and '"status": "accepted"' in answer.replace('":"', '": "'), answer
        found_code, found = shell.run(look[0])
        listed_code, listed = shell.run(look[1])
    finally:
        shell.close()
    # Then the call is there, through both the CLI and the AWS CLI
    assert found_code == 0 and '"call_id": "demo-call-1"' in found, found
    dialog_id = make_dialog_id("demo", "demo-call-1")
    assert dialog_id in answer
    assert listed_code == 0 and f'"name": "{dialog_id}"' in listed, listed
    # And the demo call's whole run (enrichment, recording, transcription) printed no Python warning and no
    # alarming line on the functions' console
    wait_decided(stack, "demo", "demo-call-1")
    printed_by_functions = [r.getMessage() for r in caplog.records if r.name.startswith("callhook_local.functions.")]
    assert not [m for m in printed_by_functions if "Warning:" in m or "heartbeat not sent" in m]
