"""Cold start of every function of template.yaml: the Init Duration Lambda reports (the import of the function's
module in a fresh sandbox), p50 over N fresh sandboxes each, forked from the local stack's runtime image (boto3,
botocore, pydantic and Powertools pre-imported, as the sandboxes share them). Floor, in the same run: a sandbox
whose module is `json` (nothing to import). Also the runtime image's own start (once per stack).
Run: `make bench` (all) or `.venv/bin/python -m bench.cold_start`.
"""

from __future__ import annotations

import os
import sys
import time

from bench.common import QUIET, free_port, machine, pct, quiet_functions, write_result

N = 10


def _init_ms(sandboxes: object, spec: object, arn: str) -> float:
    from callhook_local.sandbox import Sandbox, Sandboxes, Spec

    assert isinstance(sandboxes, Sandboxes)
    assert isinstance(spec, Spec)
    sandbox = Sandbox(sandboxes.image, spec, arn)
    try:
        if not sandbox.initialise([]) or sandbox.init_ms is None or sandbox.init_error is not None:
            raise RuntimeError(f"{spec.function_name}: init failed: {sandbox.init_error}")
        return float(sandbox.init_ms)
    finally:
        sandbox.kill()


def main(n: int = N) -> int:
    quiet_functions()
    from dataclasses import replace

    from moto.awslambda.models import lambda_backends

    from callhook_local import invoker
    from callhook_local.sandbox import RuntimeImage
    from callhook_local.stack import ACCOUNT, REGION, LocalStack

    began = time.perf_counter()
    RuntimeImage().stop()
    image_ms = (time.perf_counter() - began) * 1000
    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench-cold",
                       parameters=QUIET).start()
    rows: list[tuple[str, float, float, float]] = []
    try:
        assert stack.sandboxes is not None
        backend = lambda_backends[ACCOUNT][REGION]
        floor_spec = None
        for name, code in sorted(invoker.REGISTRY.functions.items()):
            if not name.startswith(f"{stack.name}-"):
                continue  # the registry is the process's: `make bench` ran other benches' stacks before this one
            fn = backend.get_function(name)
            spec = invoker.spec_of(fn, code)
            floor_spec = floor_spec or replace(spec, module="json", attribute="dumps", function_name="floor")
            samples = [_init_ms(stack.sandboxes, spec, fn.function_arn) for _ in range(n)]
            rows.append((name.removeprefix(f"{stack.name}-"), pct(samples, 50), min(samples), max(samples)))
            print(f"{rows[-1][0]}: p50 {rows[-1][1]:.0f} ms", flush=True)
        assert floor_spec is not None
        floor = [_init_ms(stack.sandboxes, floor_spec, "floor") for _ in range(n)]
    finally:
        stack.stop()
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    table = "\n".join(f"| {name} | {p50:.0f} | {low:.0f} | {high:.0f} |" for name, p50, low, high in rows)
    write_result("cold_start", f"""## Cold start (bench/cold_start.py)
Machine: {machine()}. Init Duration as Lambda's REPORT line gives it: the import of each function's module in a
fresh sandbox forked from the runtime image (boto3, botocore, pydantic and Powertools pre-imported, where on
Lambda they load in the init phase too: bench/cold_import.py measures whole imports), {n} fresh sandboxes per function.
The runtime image starts once per local stack in {image_ms:.0f} ms. Load average
at the end of the run (1/5/15 min): {load}.

| function | p50 ms | min ms | max ms |
|---|---|---|---|
{table}
| floor: a module with nothing to import (`json`) | {pct(floor, 50):.1f} | {min(floor):.1f} | {max(floor):.1f} |
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:])))
