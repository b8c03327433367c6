"""Performance-only patches of moto's server, each at the smallest point, none changing a result.

Measured with py-spy (GIL samples) on 200 webhooks through the local stack: every Step Functions task re-parsed
the whole ASL definition with ANTLR (23 % of CPU), built a new boto3 client to invoke Lambda (18 %), and every
request resolved its backend under one global lock by listing moto's package directory. On AWS none of this
exists; locally it made the workflow several times slower than it needs to be.

Measured again on 2026-12-01 (py-spy, GIL samples, 600 webhooks of bench/load.py at concurrency 50): every
JSONPath a state evaluates (InputPath, Parameters' `.$` values, ResultSelector, ResultPath, OutputPath) built a new
jsonpath_ng parser, i.e. ran PLY's yacc table construction, before parsing a path of a few characters: 15 % of the
process's CPU.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path

_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _cache_backend_for_host()
        _cache_asl_parse_trees()
        _cache_lambda_clients()
        _cache_json_paths()
        _installed = True


def _cache_backend_for_host() -> None:
    """The backend for a request depends only on its host: memoise moto's per-request lookup."""
    original = DomainDispatcherApplication.get_backend_for_host
    cache: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in cache:
            cache[host] = original(self, host)
        return cache[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def _cache_asl_parse_trees() -> None:
    """Parse each definition once; still build a fresh program (evaluation components) for every execution."""
    parse: Callable[[str], tuple[Any, Any]] = asl_parser.AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}

    def cached_parse(definition: str) -> tuple[Any, Any]:
        tree = trees.get(definition)
        if tree is None:
            program, tree = parse(definition)  # raises ASLParserException on syntax errors, as before
            trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(cached_parse)  # type: ignore[method-assign]


def _cache_lambda_clients() -> None:
    """One Lambda client per region and server port for the engine's Lambda tasks (boto3 clients are thread-safe).
    The port is part of the key: a process may run one local stack after another (the benchmarks do)."""
    make = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, moto_server_port())
        with _client_lock:
            if key not in clients:
                clients[key] = make(region=region, service=service, state_credentials=state_credentials)
            return clients[key]

    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[assignment]


_client_lock = threading.Lock()


def _cache_json_paths() -> None:
    """Parse each JSONPath once. moto's engine calls jsonpath_ng's `parse(path)` on every evaluation (json_path.py's
    extract_json, result_path.py's ResultPath), and each call builds a new PLY parser. A parsed path is only read
    afterwards (`find`, `update_or_create` change the data, never the path), so one parsed object serves every
    evaluation and thread. An invalid path raises on every call, as before (exceptions are not cached)."""
    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)  # type: ignore[assignment]
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)  # type: ignore[assignment]
