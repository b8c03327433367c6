"""The runtime image starts in its own process: it must find the functions however the stack was started, including
from `python -c` or a REPL in the repository, whose sys.path holds '' for the current directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callhook_local.sandbox import import_path
from tests.unit.conftest import ROOT


def test_a_stack_started_from_python_c_gives_its_sandboxes_a_path_that_finds_the_functions(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given a session started with `python -c` in the repository: the repository is on sys.path only as ''
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", ["", *(p for p in sys.path if p and Path(p).resolve() != ROOT)])
    # When a process started elsewhere gets the runtime image's path
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(import_path())}
    found = subprocess.run([sys.executable, "-c", "import functions.ingest"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    # Then it imports the functions
    assert found.returncode == 0, found.stderr
    assert "" not in import_path()
