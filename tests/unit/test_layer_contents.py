"""The layer ships what the functions import, and nothing else.

`sam build` copies `layers/common/python/` as it is (ContentUri) to /opt/python, so every module of the `callhook`
package there is deployed with every function. This test imports each function's `app.py` the way Lambda does
(its own folder first on the path, the layer after it, the CLI's and the local stack's packages unreachable), then
every module a loaded module imports inside a function (the deferred imports test_import_order.py names), until
nothing new loads. What loaded must be the layer's package exactly: a module no function reaches belongs to the
CLI's packages (cli/callhook_admin), and a function reaching for one of those would fail on AWS.
tests/build/test_sam_build.py checks that the built layer holds the same modules as the source.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.unit.conftest import ROOT

LAYER = ROOT / "layers" / "common" / "python"
NOT_IN_LAMBDA = ("callhook_admin", "callhook_cli", "callhook_local", "tests", "functions")

PROBE = r"""
import ast, importlib, importlib.abc, importlib.util, json, pathlib, sys

ROOT, LAYER, BLOCKED = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), tuple(json.loads(sys.argv[3]))

class NotInLambda(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not deployed with the functions")
        return None

sys.meta_path.insert(0, NotInLambda())
sys.path[:] = [str(LAYER)] + [p for p in sys.path if "site-packages" in p or "python3" in p and "lib" in p]
failed = {}
for app in sorted((ROOT / "functions").glob("*/app.py")):
    sys.path.insert(0, str(app.parent))
    spec = importlib.util.spec_from_file_location(f"app_{app.parent.name}", app)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    except Exception as exc:
        failed[app.parent.name] = f"{type(exc).__name__}: {exc}"
    sys.path.pop(0)

def callhook_modules():
    return {m for m in sys.modules if m == "callhook" or m.startswith("callhook.")}

def imported_inside_functions(module):
    path = getattr(sys.modules[module], "__file__", None)
    tree = ast.parse(pathlib.Path(path).read_text()) if path else ast.Module(body=[], type_ignores=[])
    for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("callhook"):
                yield node.module
            elif isinstance(node, ast.Import):
                yield from (a.name for a in node.names if a.name.startswith("callhook"))

seen = set()
while (new := callhook_modules() - seen):
    seen |= new
    for module in sorted(new):
        for target in imported_inside_functions(module):
            try:
                importlib.import_module(target)
            except Exception as exc:
                failed[f"{module} -> {target}"] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"loaded": sorted(callhook_modules()), "failed": failed}))
"""


def _layer_modules() -> set[str]:
    return {".".join(p.relative_to(LAYER).with_suffix("").parts).removesuffix(".__init__")
            for p in (LAYER / "callhook").rglob("*.py")}


def _functions_closure() -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), str(LAYER), json.dumps(NOT_IN_LAMBDA)],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_layer_holds_exactly_what_the_functions_import() -> None:
    # When every function is imported as Lambda imports it, with its deferred imports
    closure = _functions_closure()
    # Then each imports with the layer alone
    assert closure["failed"] == {}
    # And the layer ships no module that no function reaches, and lacks none that one does
    loaded = set(closure["loaded"])  # type: ignore[call-overload]
    assert sorted(_layer_modules() - loaded) == []
    assert sorted(loaded - _layer_modules()) == []


def test_the_cli_only_services_are_outside_the_layer() -> None:
    # Given the admin CLI's services (config, replays, action test, explain, history, dead letters, erasure)
    admin = {p.stem for p in (ROOT / "cli" / "callhook_admin" / "services").glob("*.py")} - {"__init__"}
    # Then none of them is shipped in the layer under its old or any name
    shipped = {m.rsplit(".", 1)[-1] for m in _layer_modules()}
    assert {"admin", "diagnosis", "history", "deadletters", "replay", "action_test"} & shipped == set()
    assert {"config", "replay", "action_test", "diagnosis", "history", "deadletters", "erasure"} <= admin
