"""schemathesis against the local stack: generated requests from the published OpenAPI document, over real HTTP.

Cases come from the document that GET /openapi.json serves (schemathesis' positive and negative data for POST and GET
/webhooks/{channel_id}). Each is sent with a plan: to a real channel with its token in the query or the header, often
with a `call_id` and other mapped fields (arbitrary values) added to what was generated, so that most cases get past
authentication into parsing, mapping, storage and the workflow; or with the credentials and channel id schemathesis
generated (401, 404).

Every answer must be: not 5xx (the channel is valid and the stack healthy, so no 5xx is ours to give), one of the
document's statuses with its content type and schema (schemathesis' checks), a JSON body with the contract's fields,
no traceback text, never 200 without the channel's token; and every dialog stored must end its workflow SUCCEEDED.
Problems are collected rather than raised inside Hypothesis, so that one run reports them all, each with its curl.

`make test` runs CASES_PER_OPERATION cases per operation (>= 1,000 in all); `make fuzz` sets CALLHOOK_FUZZ_EXAMPLES
for >= 10,000.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callhook.models.api import WebhookAnswer, WebhookError
from tests.support.stack import StackClient

ROOT = Path(__file__).resolve().parents[2]
CASES_PER_OPERATION = int(os.environ.get("CALLHOOK_FUZZ_EXAMPLES", "550"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROUTED = re.compile(r"^/webhooks/[^/]+$")  # the paths the HTTP API sends to the ingest function
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|<\w+ object at 0x")

# A provider-like mapping that runs every coercion and several JMESPath functions, plus accept_when and update_when.
MAPPING = {
    "call_id": "call_id",
    "caller": "from",
    "callee": "to",
    "direction": "map_value(dir, `{\"0\": \"inbound\", \"1\": \"outbound\"}`) || direction",
    "duration": "to_seconds(duration) || ms_to_seconds(duration_ms)",
    "started_at": "to_iso(start, 'Europe/Berlin')",
    "status": "status",
    "operator_email": "agent.email || from_json(agent_json).email",
    "operator_ext": "agent[0].ext",
}
CALL_IDS = st.sampled_from([f"fz-{n}" for n in range(8)]) | st.text(min_size=1, max_size=12)
FIELD_VALUES = (
    st.text(max_size=20)
    | st.integers(-(10**40), 10**40).map(str)
    | st.sampled_from(["1700000000", "1700000000123", "2026-11-25 10:00:00", "01:02:03", "1", "0", "1e400", "-5",
                       "Tue, 25 Nov 2026 10:00:00 +0100", "2026-11-25T10:00:00Z", "in", "outbound-api",
                       "+12349013030", '{"email": "ann@example.com"}', "update", "skip"])
)
CALL_FIELDS = st.fixed_dictionaries(
    {"call_id": CALL_IDS},
    optional=dict.fromkeys(("from", "to", "dir", "direction", "duration", "duration_ms", "start", "status",
                            "agent_json", "event"), FIELD_VALUES),
)
# (channel, credentials, add call fields): most cases authenticate, many also carry a call_id so they are stored.
PLANS = st.sampled_from([
    ("known", "query", False), ("known", "header", False), ("known", "query", True), ("known", "header", True),
    ("known", "header", True), ("known", "generated", False), ("generated", "generated", False),
])
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def fuzz_channel(stack: StackClient) -> dict[str, Any]:
    return stack.channel(advanced_config={
        "field_mapping": MAPPING, "accept_when": "status != 'skip'", "update_when": "event == 'update'",
        "timezone": "Europe/Berlin", "default_region": "DE"})


@pytest.fixture(scope="module")
def published_document(stack: StackClient) -> dict[str, Any]:
    resp = requests.get(f"{stack.stack.api_url}/openapi.json", timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_fuzz_webhook_api_publishes_the_document_of_the_repository(published_document: dict) -> None:
    # Given the document the local stack serves (GET /openapi.json: template.yaml's route to the ingest function)
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    # Then it is the repository's docs/openapi.json
    assert published_document == committed


# schemathesis' negative mode draws from the global `random` inside its strategies (its own choice, not ours).
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.timeout(max(300, CASES_PER_OPERATION // 5))  # ~20 ms a case on 2 cores, 4x headroom for make fuzz
def test_fuzz_webhook_api_answers_generated_requests_without_server_errors(
    stack: StackClient, fuzz_channel: dict, published_document: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the published document, with the local stack as its server
    schema = schemathesis.openapi.from_dict(published_document)
    schema.config.update(base_url=stack.stack.api_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(op.label for op in operations) == ["GET /webhooks/{channel_id}", "POST /webhooks/{channel_id}"]
    tally: Counter[str] = Counter()
    problems: list[str] = []
    dialog_ids: set[str] = set()
    session = requests.Session()
    started = time.monotonic()

    # When every operation gets CASES_PER_OPERATION generated requests
    for operation in operations:
        known = {"channel_id": fuzz_channel["channel_id"]}
        cases = {"known": st.one_of(*[operation.as_strategy(mode, path_parameters=known) for mode in MODES]),
                 "generated": st.one_of(*[operation.as_strategy(mode) for mode in MODES])}
        planned = PLANS.flatmap(lambda plan, cases=cases: st.tuples(st.just(plan), cases[plan[0]]))

        @settings(max_examples=CASES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(planned=planned, fields=CALL_FIELDS)
        def send(planned: tuple[tuple[str, str, bool], schemathesis.Case], fields: dict[str, str]) -> None:
            plan, case = planned
            token = _apply(case, plan, fields, fuzz_channel)
            response = case.call(session=session, timeout=30)
            tally["cases"] += 1
            tally[f"{case.method} {response.status_code}"] += 1
            problem, dialog_id = _contract_problem(case, response, token)
            if problem:
                problems.append(f"{problem}\n  {case.as_curl_command()}")
            if dialog_id:
                dialog_ids.add(dialog_id)

        send()

    # Then no answer broke the contract
    elapsed = time.monotonic() - started
    with capsys.disabled():  # the figures, in every run's output
        print(f"\nschemathesis: {tally['cases']} cases in {elapsed:.1f}s, {len(dialog_ids)} dialogs; "
              + ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()) if k != "cases"))
    assert not problems, f"{len(problems)} answers broke the contract:\n" + "\n".join(problems[:10])
    assert tally["cases"] >= 2 * CASES_PER_OPERATION
    past_auth = sum(v for k, v in tally.items() if k.split(" ")[-1] in {"200", "400", "415", "422"})
    assert past_auth >= 0.45 * tally["cases"], tally  # a good share reached parsing and mapping (~58 % expected)
    # And every stored dialog's workflow succeeded: what was stored can be read back and processed
    failed = {}
    for dialog_id in dialog_ids:
        if stack.dialog(dialog_id) is not None:  # an update kept for a call that never came has no dialog
            status = stack.wait_execution(dialog_id, timeout=60)
            if status["status"] != "SUCCEEDED":
                failed[dialog_id] = (status["status"], status.get("error"), (status.get("cause") or "")[-300:])
    assert not failed, failed


def _apply(case: schemathesis.Case, plan: tuple[str, str, bool], fields: dict[str, str],
           channel: dict[str, Any]) -> str | None:
    """Put the plan's credentials (and call fields) on the case; returns the channel's token if the case carries it."""
    target, credentials, with_call = plan
    if target == "generated":
        return None
    token = channel["webhook_token"]
    query, headers = dict(case.query or {}), dict(case.headers or {})
    if credentials == "query":
        query["token"] = token
    elif credentials == "header":
        headers["X-Webhook-Token"] = token
    if with_call and case.method == "GET":
        query.update(fields)
    elif with_call and isinstance(case.body, dict):
        case.body = {**case.body, **fields}
    case.query, case.headers = query, headers
    return token if token in (query.get("token"), headers.get("X-Webhook-Token")) else None


def _contract_problem(case: schemathesis.Case, response: schemathesis.Response,
                      token: str | None) -> tuple[str | None, str | None]:
    """What is wrong with this answer (None if nothing), and the dialog it names."""
    head = f"{response.status_code} {response.text[:300]!r}"
    if response.status_code >= 500:
        return f"server error: {head}", None
    if TRACEBACK.search(response.text):
        return f"traceback text: {head}", None
    if not ROUTED.match(urlsplit(response.request.url).path):
        # Not a route of the API: the gateway (the local API front, like API Gateway) answers for itself.
        ok = response.status_code == 404 and response.json() == {"message": "Not Found"}
        return (None if ok else f"unrouted path answered {head}"), None
    try:
        case.validate_response(response, checks=CHECKS)
        body = response.json()
        if response.status_code != 200:
            error = WebhookError.model_validate(body)
            return (None if error.status == "rejected" and error.reason and error.message else f"error: {head}"), None
        answer = WebhookAnswer.model_validate(body)
    except (FailureGroup, ValidationError, ValueError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:500]}; {head}", None
    if token is None:
        return f"200 without the channel's token: {head}", None
    if answer.status != "ignored" and not answer.dialog_id:
        return f"{answer.status} without a dialog_id: {head}", None
    return None, answer.dialog_id
