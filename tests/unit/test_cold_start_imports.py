"""What a cold start loads (performance): behaviour, not timing (the timing is bench/cold_import.py).

* With tracing off (the local stack, `sam local`, POWERTOOLS_TRACE_DISABLED), no function loads the X-Ray SDK's
  recorder, and ingest does not load Powertools' OpenAPI models until GET /openapi.json is asked for.
* With tracing on (on Lambda, `Tracing: Active`), the Tracer still patches the AWS SDK and sends the handler's
  subsegment to the X-Ray daemon, as Powertools' default provider did.
* Ingest's import loads no model module its webhook path does not use, and builds no validator of a model it
  imports but never validates (those build on first use); a webhook still validates what it validated.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from tests.unit.conftest import ROOT

XRAY = "aws_xray_sdk.core"
OPENAPI_MODELS = "aws_lambda_powertools.event_handler.openapi.models"
# Powertools' OpenAPI parameter classes: their compat module builds a pydantic model at import (~5 ms CPU).
OPENAPI_PARAMS = "aws_lambda_powertools.event_handler.openapi.compat"
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
# Model modules the webhook path never uses: ingest's cold import must not load them (callhook.ports names them
# for type checking only).
NOT_ON_THE_WEBHOOK_PATH = ["callhook.models.action", "callhook.models.stream"]
# Models ingest imports but never validates: their validators build on first use (defer_build).
BUILT_ON_FIRST_USE = [
    "callhook.models.directory:Operator", "callhook.models.directory:OperatorLookup",
    "callhook.models.directory:Topic", "callhook.models.directory:Setting",
    "callhook.models.problems:ItemProblem", "callhook.models.problems:InvalidItem",
    "callhook.models.erasure:DialogErasure", "callhook.models.erasure:ErasurePlan",
    "callhook.models.erasure:ErasureRecord",
    "callhook.models.transcription:TranscribeTask", "callhook.models.transcription:TranscriptionOutcome",
    "callhook.models.transcription:TranscriptionWaitEnded", "callhook.models.transcription:JobStateChangeEvent",
    "callhook.models.transcription:JobStart", "callhook.models.transcription:TranscribeJob",
    "callhook.models.transcription:Fetched",
    "callhook.settings:ReconcileSettings", "callhook.settings:TranscriptionSettings",
    # Only some webhooks need these (a rejection, a held or spooled request, a handshake, a recording URL, a preset):
    # an accepted webhook's cold start (import + first invocation) builds none of them.
    "callhook.models.event:RawEvent", "callhook.models.event:StoredRequest", "callhook.models.event:SpooledRequest",
    "callhook.models.api:WebhookError", "callhook.models.api:HandshakeAnswer",
    "callhook.models.transcription:KeepRecordingRequest", "callhook.settings:RecordingRequestSettings",
    "callhook.models.preset:Preset",
]
# What every accepted webhook validates or sends: built at import, as before.
BUILT_AT_IMPORT = ["callhook.models.api:WebhookRequest", "callhook.models.api:WebhookAnswer",
                   "callhook.models.channel:Channel", "callhook.models.dialog:Dialog",
                   "callhook.models.workflow:WorkflowState", "callhook.settings:IngestSettings"]


def _run(probe: str, **env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN"))}
    base |= {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Callhook"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**base, **env})
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_ingest_cold_start_loads_neither_the_xray_sdk_nor_powertools_openapi_classes() -> None:
    # Given a fresh interpreter with tracing off, as the local stack runs functions
    probe = (
        "import json, sys\n"
        "import functions.ingest.app as app\n"
        f"after_import = sorted(m for m in ({XRAY!r}, {OPENAPI_MODELS!r}, {OPENAPI_PARAMS!r}) if m in sys.modules)\n"
        "event = json.load(open('events/ingest/get_call.json'))\n"
        "event.update(rawPath='/openapi.json', rawQueryString='', queryStringParameters=None)\n"
        "event['requestContext']['http'].update(method='GET', path='/openapi.json')\n"
        "from tests.unit.conftest import FakeContext\n"
        "answer = app.handler(event, FakeContext())\n"
        "print(json.dumps({'after_import': after_import, 'status': answer['statusCode'],\n"
        f"                  'after_openapi': {OPENAPI_MODELS!r} in sys.modules,\n"
        f"                  'xray_after_openapi': {XRAY!r} in sys.modules}}))\n")
    # When ingest is imported, then asked for its OpenAPI document
    result = _run(probe, POWERTOOLS_TRACE_DISABLED="true")
    # Then the import loaded none of them; the document loads the models when it is asked for (and still no X-Ray)
    assert result == {"after_import": [], "status": 200, "after_openapi": True, "xray_after_openapi": False}


def test_ingest_cold_import_loads_only_what_the_webhook_path_uses() -> None:
    # Given a fresh interpreter importing ingest as Lambda does (its folder first on the path, then the layer)
    probe = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'functions' / 'ingest')!r}, {str(ROOT / 'layers' / 'common' / 'python')!r}]\n"
        "import app\n"
        "def built(name):\n"
        "    module, cls = name.split(':')\n"
        "    validator = getattr(importlib.import_module(module), cls).__pydantic_validator__\n"
        "    return type(validator).__name__ != 'MockValSer'\n"
        f"print(json.dumps({{'loaded': [m for m in {NOT_ON_THE_WEBHOOK_PATH!r} if m in sys.modules],\n"
        f"                  'built': [n for n in {BUILT_ON_FIRST_USE!r} if built(n)],\n"
        f"                  'not_built': [n for n in {BUILT_AT_IMPORT!r} if not built(n)]}}))\n")
    # When
    result = _run(probe, POWERTOOLS_TRACE_DISABLED="true")
    # Then
    assert result == {"loaded": [], "built": [], "not_built": []}


def test_a_model_built_on_first_use_validates_as_before() -> None:
    # Given models whose validators are deferred, in a fresh interpreter
    probe = (
        "import json\n"
        "from pydantic import ValidationError\n"
        "from callhook.models.directory import Operator\n"
        "from callhook.models.transcription import TranscribeTask\n"
        "from callhook.models.event import RawEvent\n"
        "errors = {}\n"
        "for model, data in ((TranscribeTask, {'unexpected': 1}), (Operator, {'user_id': 'x'}),\n"
        "                    (RawEvent, {'event_id': 'e', 'request': {'method': 'POST', 'unexpected': 1}})):\n"
        "    try:\n"
        "        model.model_validate(data)\n"
        "    except ValidationError as exc:\n"
        "        errors[model.__name__] = sorted([e['type'], *e['loc']] for e in exc.errors())\n"
        "print(json.dumps(errors))\n")
    # When they validate bad input, Then they refuse it as they did when built at import
    assert _run(probe) == {
        "TranscribeTask": [["extra_forbidden", "unexpected"], ["missing", "state"], ["missing", "task_token"]],
        "Operator": [["int_parsing", "user_id"], ["missing", "email"]],
        "RawEvent": [["extra_forbidden", "request", "unexpected"], ["missing", "channel_id"], ["missing", "kind"],
                     ["missing", "received_at"], ["missing", "request", "headers"], ["missing", "request", "url"]],
    }


def test_functions_run_without_pydantic_plugins() -> None:
    # The template disables pydantic's plugin discovery (a scan of every installed distribution at the first model)
    from callhook_local.template import load_template
    assert load_template()["Globals"]["Function"]["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_no_function_loads_the_xray_sdk_with_tracing_off() -> None:
    # Given every function's module, imported in one fresh interpreter with tracing off
    probe = (
        "import importlib, json, sys\n"
        f"for name in {FUNCTIONS!r}:\n"
        "    importlib.import_module(f'functions.{name}.app')\n"
        f"print(json.dumps({{'xray': {XRAY!r} in sys.modules, 'openapi': {OPENAPI_MODELS!r} in sys.modules}}))\n")
    # When / Then
    assert _run(probe, POWERTOOLS_TRACE_DISABLED="true") == {"xray": False, "openapi": False}
    # And outside Lambda (no LAMBDA_TASK_ROOT) tracing is off too, as Powertools decides
    assert _run(probe) == {"xray": False, "openapi": False}


def test_with_tracing_on_the_sdk_is_patched_and_the_handler_subsegment_reaches_the_daemon() -> None:
    # Given a UDP socket standing for the X-Ray daemon and a Lambda environment with an active, sampled trace
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    probe = (
        "import json, sys\n"
        "from callhook.observability import tracer\n"
        "import callhook.outbound\n"
        "from aws_xray_sdk.core import patcher\n"
        "@tracer.capture_lambda_handler(capture_response=False)\n"
        "def handler(event, context):\n"
        "    return {'ok': True}\n"
        "handler({}, None)\n"
        "print(json.dumps({'patched': sorted(patcher._PATCHED_MODULES)}))\n")
    try:
        # When a traced handler runs
        result = _run(probe, LAMBDA_TASK_ROOT=str(ROOT), AWS_LAMBDA_FUNCTION_NAME="callhook-ingest",
                      POWERTOOLS_SERVICE_NAME="callhook",
                      AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
                      _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        datagram, _ = daemon.recvfrom(65536)
    finally:
        daemon.close()
    # Then boto (botocore) and requests (a module calling out with it was loaded) are patched, and the daemon got
    # the handler's subsegment in the trace
    assert {"botocore", "requests"} <= set(result["patched"])  # type: ignore[call-overload]
    header, document = datagram.decode().split("\n", 1)
    assert json.loads(header) == {"format": "json", "version": 1}
    subsegment = json.loads(document)
    assert subsegment["name"] == "## handler" and subsegment["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert subsegment["annotations"] == {"ColdStart": True, "Service": "callhook"}


def test_with_tracing_on_ingest_patches_the_aws_sdk_without_importing_what_it_never_calls_with() -> None:
    # Given a Lambda environment with tracing on, as `Tracing: Active` deploys ingest
    probe = (
        "import json, sys\n"
        "import functions.ingest.app\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(json.dumps({'patched': sorted(patcher._PATCHED_MODULES), 'requests': 'requests' in sys.modules}))\n")
    # When ingest is imported
    result = _run(probe, LAMBDA_TASK_ROOT=str(ROOT), AWS_LAMBDA_FUNCTION_NAME="callhook-ingest",
                  POWERTOOLS_SERVICE_NAME="callhook", AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000")
    # Then the AWS SDK is traced, and requests (X-Ray's patch_all would import it to patch it) is not even loaded
    assert result == {"patched": ["botocore"], "requests": False}
