"""Performance-only patches of moto's server, each at the smallest point, none changing a result.

Measured with py-spy (GIL samples) on 200 webhooks through the local stack: every Step Functions task re-parsed
the whole ASL definition with ANTLR (23 % of CPU; now parsed, and its program built, once per definition), built
a new boto3 client to invoke Lambda (18 %), and every request resolved its backend under one global lock by listing
moto's package directory. On AWS none of this
exists; locally it made the workflow several times slower than it needs to be.

Measured again on 2026-12-01 (py-spy, GIL samples, 600 webhooks of bench/load.py at concurrency 50): every
JSONPath a state evaluates (InputPath, Parameters' `.$` values, ResultSelector, ResultPath, OutputPath) built a new
jsonpath_ng parser, i.e. ran PLY's yacc table construction, before parsing a path of a few characters: 15 % of the
process's CPU.

Measured again later on 2026-12-01 (py-spy --gil, 30 s of bench/workflow.py at concurrency 4, steady state): moto's
response serializer took 17 % of the stack process's CPU, almost all of it DynamoDB answers (UpdateItem returning
ALL_NEW: every member of every AttributeValue of the item asks six alias providers, built anew each time, which key
could hold it), and every request listed its response class's methods with `inspect.getmembers` (4 %).

Measured again in the evening of 2026-12-01 (py-spy --gil, bench/cpu.py, the Task invokes in process): serializing
DynamoDB's items was still 20 % of the stack's CPU, most of it moto walking the ten members of the `AttributeValue`
shape for each value of the item (a dialog has a few hundred), for answers already in the wire's form.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

from moto.core import responses, serialize
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse import asl_parser
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
        _cache_serializer_aliases()
        _cache_action_method_names()
        _serialize_attribute_values_directly()
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
    """Parse each definition once and build its program (the evaluation components) once, for every execution.

    moto built the program anew for each execution by visiting the parse tree (7-12 % of the stack's CPU on the
    workflow bench). The components hold only what the definition says: all of an execution's state lives in its
    Environment (stack, heap, frames, context object), which is why moto itself runs one Map's iteration components
    in several threads at once. The one exception, each component's `heap_key` (a random name for its slots in the
    heap, set on first use), is set here before the program is shared, so that concurrent executions never race to
    set it."""
    parse: Callable[[str], tuple[Any, Any]] = asl_parser.AmazonStateLanguageParser.parse
    parsed: dict[str, tuple[Any, Any]] = {}

    def cached_parse(definition: str) -> tuple[Any, Any]:
        known = parsed.get(definition)
        if known is None:
            program, tree = parse(definition)  # raises ASLParserException on syntax errors, as before
            _set_heap_keys(program)
            known = parsed.setdefault(definition, (program, tree))
        return known

    cached_parse.__wrapped__ = parse  # type: ignore[attr-defined]
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(cached_parse)  # type: ignore[method-assign]


def _set_heap_keys(program: Any) -> None:
    """Give every evaluation component of a program its heap key now (moto sets it lazily, on first use)."""
    pending, seen = [program], set()
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, EvalComponent):
            _ = obj.heap_key
        if isinstance(obj, dict):
            pending.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            pending.extend(obj)
        elif type(obj).__module__.startswith("moto.stepfunctions.parser") and hasattr(obj, "__dict__"):
            pending.extend(vars(obj).values())


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


def _cache_serializer_aliases() -> None:
    """Ask the alias providers once per (object class, key, shape). moto's serializer picks each member of an answer
    from the Python object with `get_possible_keys`, which builds six providers and tests each on every call; what
    they answer depends only on the object's class (its name, its `Meta.serialization_aliases`), the key and the
    shape with its parent (names, members, serialization name: botocore's shapes never change once loaded). The
    values are still read from each object as before, in the same order of keys, so every answer is moto's own."""
    for cls in (serialize.AttributePicker, serialize.XFormedAttributePicker):
        _memoise_possible_keys(cls)
    _pick_from_plain_dicts()


def _pick_from_plain_dicts() -> None:
    """Read a member from a plain dict directly. moto's `ResponseSerializer.get_value` builds a picker context (and
    joins the serializer's whole path into a string) for every member of every shape, then asks the picker, which
    tries each possible key with `obj[key]` and a caught KeyError. For a plain `dict` (DynamoDB's answers are nested
    plain dicts) under a picker with moto's default providers and no response transformers, that is exactly: the
    first possible key present in the dict gives the value (even None), else None. Anything else takes moto's path."""
    original = serialize.ResponseSerializer.get_value
    pickers = (serialize.AttributePicker, serialize.XFormedAttributePicker)

    def get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if (type(value) is not dict or type(picker) not in pickers or picker.response_transformers
                or picker.alias_providers is not serialize.DEFAULT_ALIAS_PROVIDERS):
            return original(self, value, key, shape)
        context = _DictContext(value, key, shape)
        for possible_key in picker.get_possible_keys(context):
            if "." in possible_key:  # a dotted key is a path for moto's get_value: its own path
                return original(self, value, key, shape)
            if possible_key in value:
                return value[possible_key]
        return None

    get_value.__wrapped__ = original  # type: ignore[attr-defined]
    serialize.ResponseSerializer.get_value = get_value  # type: ignore[method-assign]


class _DictContext:
    """What the alias providers read of a picker context (the object, the key, the shape)."""

    __slots__ = ("key", "obj", "shape")

    def __init__(self, obj: Any, key: str, shape: Any) -> None:
        self.obj, self.key, self.shape = obj, key, shape


def _memoise_possible_keys(cls: type[Any]) -> None:
    original = cls.__dict__["get_possible_keys"]
    cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        if self.alias_providers is not serialize.DEFAULT_ALIAS_PROVIDERS:  # custom providers: moto's own path
            return iter(original(self, context))
        shape = context.shape
        key = (type(self), context.obj.__class__, context.key, shape, getattr(shape, "parent", None))
        keys = cache.get(key)
        if keys is None:
            keys = tuple(original(self, context))
            cache[key] = keys
        return iter(keys)

    get_possible_keys.__wrapped__ = original  # type: ignore[attr-defined]
    cls.get_possible_keys = get_possible_keys


def _cache_action_method_names() -> None:
    """A response class's method names, listed once per class: moto's call_action ran `inspect.getmembers` over the
    class on every request to learn whether the action is one of its methods."""
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(  # type: ignore[assignment]
        responses.method_names_from_class)


_SKIPPED = object()  # moto's serializer sets nothing for this value (a None structure)


def _serialize_attribute_values_directly() -> None:
    """DynamoDB's `AttributeValue`s, in a JSON answer, written as moto's serializer writes them without walking the
    shape for each one. moto's answer holds them as plain dicts in the wire's form ({"S": ...}, {"M": {...}}...);
    its serializer visits all ten members of the shape for every value, nested ones included, asking the picker for
    each. Here a plain dict whose keys are all members of the shape is written member by member as moto's JSON
    serializer would (strings through its string conversion, maps and lists recursively, BOOL and NULL as they are);
    anything else (a binary value, whose base64 is moto's business, another type, a custom picker) takes moto's own
    path, node by node. `tests/unit/test_moto_speedups.py` compares the answers byte for byte with moto's own."""
    original = serialize.BaseJSONSerializer._serialize_type_structure
    pickers = (serialize.AttributePicker, serialize.XFormedAttributePicker)
    strings, string_lists, scalars = {"S", "N"}, {"SS", "NS"}, {"BOOL", "NULL"}

    def plain_picking(serializer: Any) -> bool:
        picker = serializer._value_picker
        return (type(picker) in pickers and not picker.response_transformers
                and picker.alias_providers is serialize.DEFAULT_ALIAS_PROVIDERS)

    def as_string(value: Any) -> Any:  # BaseJSONSerializer._serialize_type_string
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in [None, {}, []] else value

    def attribute_value(serializer: Any, value: Any, shape: Any) -> Any:
        members = shape.members
        if type(value) is not dict or not all(k in members and k not in ("B", "BS") for k in value):
            wrapper: dict[str, Any] = {}
            original(serializer, wrapper, value, shape, "value")
            return wrapper.get("value", _SKIPPED)
        out: dict[str, Any] = {}
        for name, member in members.items():  # the shape's order, as moto writes them
            item = value.get(name)
            if item is None:
                continue
            key = member.serialization.get("name", name)
            if name in strings:
                out[key] = as_string(item)
            elif name in string_lists:
                out[key] = [as_string(i) for i in item]
            elif name in scalars:
                out[key] = item
            elif name == "M" and type(item) is dict:
                out[key] = {k: v for k, sub in item.items() if sub is not None
                            and (v := attribute_value(serializer, sub, shape)) is not _SKIPPED}
            elif name == "L" and type(item) is list:
                out[key] = [sub if sub is None else attribute_value(serializer, sub, shape) for sub in item]
            else:  # a member this code does not know, or a container of another type: moto's own path
                wrapper = {}
                original(serializer, wrapper, value, shape, "value")
                return wrapper.get("value", _SKIPPED)
        return out

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and value is not None and shape.name == "AttributeValue" and plain_picking(self):
            converted = attribute_value(self, value, shape)
            if converted is not _SKIPPED:
                serialized[shape.serialization.get("name", key)] = converted
            return
        original(self, serialized, value, shape, key)

    serialize_structure.__wrapped__ = original  # type: ignore[attr-defined]
    serialize.BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
