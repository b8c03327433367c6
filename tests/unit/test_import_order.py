"""No import cycles and no imports inside functions to dodge import order.

* Every module of the layer imports on its own, first, in a fresh set of callhook modules: a cycle that only works
  from one entry point fails here.
* Imports inside functions are listed: the ones left are named below with why, and a new one fails this test.
* The observability singletons read nothing at import that a caller must set first.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from tests.unit.conftest import ROOT

LAYER = ROOT / "layers" / "common" / "python"
PACKAGE = LAYER / "callhook"

# (file, imported module): imports left inside functions, each for a reason that is not import order.
DEFERRED_ON_PURPOSE = {
    # Token-only channels never load the signature schemes' crypto and JWT libraries (cold start).
    ("services/auth.py", "callhook.services.signatures"),
    # A function whose channels name no preset never builds the provider catalog (cold start). Not a cycle: the
    # catalog builds on callhook.models.preset and channel_config, which import nothing of callhook.presets.
    ("presets/__init__.py", "callhook.presets.catalog"),
}


def _modules() -> list[str]:
    return sorted(".".join(p.relative_to(LAYER).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py"))


def test_every_module_imports_first_and_alone() -> None:
    # When each module is imported with no callhook module loaded before it
    probe = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {_modules()!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'callhook' or m.startswith('callhook.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps(failed))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=LAYER, capture_output=True, text=True, check=True)
    # Then
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


def test_imports_inside_functions_are_only_the_ones_named() -> None:
    # When
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("callhook"):
                    found.add((str(path.relative_to(PACKAGE)), node.module))
                elif isinstance(node, ast.Import):
                    found |= {(str(path.relative_to(PACKAGE)), a.name) for a in node.names
                              if a.name.startswith("callhook")}
    # Then
    assert found == DEFERRED_ON_PURPOSE


def test_metrics_take_the_namespace_set_after_import() -> None:
    # Given callhook's services imported before the environment names the namespace (the local demo seed's order)
    probe = (
        "import contextlib, io, os\n"
        "import callhook_admin.services.config\n"
        "from callhook.observability import metrics\n"
        "os.environ.update(POWERTOOLS_METRICS_NAMESPACE='Callhook', POWERTOOLS_SERVICE_NAME='callhook')\n"
        "metrics.add_metric(name='WebhookAccepted', unit='Count', value=1)\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    metrics.flush_metrics()\n"
        "print(out.getvalue().strip().splitlines()[-1])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    # When
    out = subprocess.run([sys.executable, "-c", probe], cwd=LAYER, capture_output=True, text=True, check=True,
                         env=env)
    # Then
    emf = json.loads(out.stdout.strip().splitlines()[-1])
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Callhook"
    assert emf["service"] == "callhook" and emf["WebhookAccepted"] == [1.0]

