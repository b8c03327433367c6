"""What "console changes apply at once" costs per webhook: the channel lookup and authentication of the webhook
path, before and after, interleaved request by request.

- before: the channel item cached 30 s and the signature secret 300 s per sandbox; a refusal rests on the cache.
- after: both cached 5 s (CHANNEL_CACHE_SECONDS), and a refusal (401/403/404) is decided again on a consistent
  read of the item (and of the secret, for a signed channel).

Both run in this process against the local stack's AWS endpoint (DynamoDB and Parameter Store over HTTP, as a
sandbox reaches them), each with its own channel ids so that their caches never share an entry, at a steady pace
(one webhook of each kind every PACE_S per variant, as one busy sandbox sees them), so that cache expiry costs
what it costs at that rate. Measured: the time from the request to the admission decision (authenticated request
or refusal), which is all the change touches.
Run: `.venv/bin/python -m bench.channel_cache [seconds]`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.common import QUIET, free_port, machine, quiet_functions, summary_ms, write_result

DURATION_S = 90.0
PACE_S = 0.05  # 20 webhooks/s of each kind per variant


def main(duration_s: float = DURATION_S) -> int:
    quiet_functions()
    from callhook.errors import WebhookRejectedError
    from callhook.ingest_wiring import ingest_ports
    from callhook.models.api import WebhookRequest
    from callhook.repositories.ingest import CachedChannels
    from callhook.secrets_resolver import ResolvedSecrets
    from callhook.services.auth import authenticate
    from callhook.services.ingest import admit, load_channel_view
    from callhook.settings import IngestSettings
    from callhook_admin.services.config import put_channel
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench-cache",
                       parameters=QUIET).start()
    try:
        env = stack.env
        secret_name = f"/callhook/bench/{uuid.uuid4().hex}"
        stack.client("ssm").put_parameter(Name=secret_name, Value="bench-secret", Type="SecureString")
        token = uuid.uuid4().hex
        mapping = {"field_mapping": {"call_id": "id"}}
        for variant in ("before", "after"):
            for prefix in ("tok", "bad"):  # the refused kind has its own item: its fresh reads refresh only it
                put_channel(env["CHANNELS_TABLE"], {"channel_id": f"{prefix}-{variant}", "webhook_token": token,
                                                    "advanced_config": mapping})
            put_channel(env["CHANNELS_TABLE"], {"channel_id": f"sig-{variant}", "advanced_config": mapping,
                                                "signature": {"scheme": "hmac-sha256", "secret": f"ssm:{secret_name}"}})
        base = {k: v for k, v in env.items() if k.isupper()}
        after_settings = IngestSettings.model_validate({**base, "CHANNEL_CACHE_SECONDS": "5"})
        after_io = ingest_ports(after_settings)
        before_io = dataclasses.replace(after_io, channels=CachedChannels(after_settings.channels_table, 30),
                                        secrets=ResolvedSecrets(what="the signature secret", max_age=300))

        def before(request: WebhookRequest) -> Any:
            view = load_channel_view(request.channel_id, before_io)
            return authenticate(view.channel, request, before_io.secrets)

        def after(request: WebhookRequest) -> Any:
            return admit(request, after_io, after_settings)

        def request(channel_id: str, *, good: bool, signed: bool) -> WebhookRequest:
            body = json.dumps({"id": uuid.uuid4().hex}).encode()
            headers = {"content-type": "application/json"}
            if signed:
                key = b"bench-secret" if good else b"wrong"
                headers["x-signature"] = hmac.new(key, body, hashlib.sha256).hexdigest()
            else:
                headers["x-webhook-token"] = token if good else "wrong-token"
            return WebhookRequest(channel_id=channel_id, method="POST", url=f"https://x/webhooks/{channel_id}",
                                  headers=headers, body=body)

        def timed(decide: Callable[[WebhookRequest], Any], req: WebhookRequest, accepted: bool) -> float:
            t0 = time.perf_counter()
            try:
                decide(req)
                ok = True
            except WebhookRejectedError:
                ok = False
            elapsed = time.perf_counter() - t0
            assert ok == accepted, (req.channel_id, accepted)
            return elapsed

        kinds = {"token, accepted": ("tok", True, False), "token, refused (wrong token)": ("bad", False, False),
                 "signed (ssm: secret), accepted": ("sig", True, True)}
        results: dict[tuple[str, str], list[float]] = {(k, v): [] for k in kinds for v in ("before", "after")}
        variants: list[tuple[str, Callable[[WebhookRequest], Any]]] = [("before", before), ("after", after)]
        for _ in range(10):  # warm both (imports, connections, caches)
            for name, decide in variants:
                for prefix, good, signed in kinds.values():
                    timed(decide, request(f"{prefix}-{name}", good=good, signed=signed), good)
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < duration_s:
            tick = time.monotonic()
            for name, decide in (variants if i % 2 == 0 else variants[::-1]):
                for kind, (prefix, good, signed) in kinds.items():
                    results[(kind, name)].append(timed(decide, request(f"{prefix}-{name}", good=good,
                                                                       signed=signed), good))
            i += 1
            time.sleep(max(0.0, PACE_S - (time.monotonic() - tick)))
    finally:
        stack.stop()
    rows = []
    for kind in kinds:
        b, a = summary_ms(results[(kind, "before")]), summary_ms(results[(kind, "after")])
        rows.append(f"| {kind} | {b['n']:.0f} | {b['p50']:.3f} / {a['p50']:.3f} | {b['p99']:.2f} / {a['p99']:.2f} "
                    f"| {b['mean']:.3f} / {a['mean']:.3f} | {a['mean'] - b['mean']:+.3f} |")
    load = os.getloadavg()
    write_result("channel_cache", f"""## Console changes apply at once: cost per webhook (bench/channel_cache.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. {duration_s:.0f} s at
one webhook of each kind every {PACE_S * 1000:.0f} ms per variant, interleaved; the channel lookup and
authentication only (DynamoDB and Parameter Store of the local stack over HTTP). Before: item cached 30 s, secret
300 s, a refusal rests on the cache. After: both cached 5 s, a refusal re-reads the item (consistent) and the
secret first.

| webhook | n | p50 ms before / after | p99 ms before / after | mean ms before / after | mean cost ms |
|---|---|---|---|---|---|
{chr(10).join(rows)}
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else DURATION_S))
