"""`make run`: the local stack in the foreground, with the demo configuration and a curl to try."""

from __future__ import annotations

import os
import signal
import sys
import threading

from callhook_local.demo import banner, seed_demo
from callhook_local.fake_pbx import start_fake_pbx
from callhook_local.sandbox import log_functions_to
from callhook_local.stack import LocalStack


def main() -> int:
    aws_port = int(os.environ.get("CALLHOOK_AWS_PORT", "5000"))
    api_port = int(os.environ.get("CALLHOOK_API_PORT", "3000"))
    pbx_port = int(os.environ.get("CALLHOOK_PBX_PORT", "8085"))
    log_functions_to(sys.stdout)  # the functions' output and REPORT lines, as their log streams would show them
    try:
        stack = LocalStack(aws_port=aws_port, api_port=api_port).start()
    except OSError as exc:
        print(f"callhook: cannot start the local stack: {exc} (set CALLHOOK_AWS_PORT / CALLHOOK_API_PORT)",
              file=sys.stderr)
        return 1
    pbx = start_fake_pbx(port=pbx_port)
    seed_demo(stack, pbx)
    print(banner(stack, pbx.url), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print("stopping...", flush=True)
    pbx.stop()
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
