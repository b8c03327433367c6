"""IAM on the local stack, evaluated as AWS evaluates it, for every AWS call a function (or the state machine, or
EventBridge on a function's behalf) makes.

1. **Roles as they deploy.** template.yaml goes through `samtranslator` (the SAM transform `sam deploy` runs); each
   `AWS::IAM::Role` it produces (one per function, one for the state machine) keeps its inline policies (policy
   templates and `Statement`s expanded) and its managed policies, with intrinsics resolved to the local stack's
   names and ARNs. Each role gets temporary credentials from moto's STS (attributed by moto to
   `arn:aws:sts::<account>:assumed-role/<role>/<session>`). `AWS::Lambda::Permission` resources (explicit, and the
   ones SAM adds for `Schedule` events) are the functions' resource policies.
2. **Who signs.** Each function runs in its own sandbox (sandbox.py) whose environment holds its role session's
   temporary credentials, so everything the process signs (its own threads included) carries the role's key. In
   the stack's own process, callers acting for a service sign per thread: `acting_as` sets an identity on the thread
   and `install()` makes botocore sign with it (the state machine's Task invokes, EventBridge's and the schedules';
   a `ThreadPoolExecutor` task inherits its submitter's identity). Calls with any other credentials (admin CLI, AWS
   CLI, tests, the stack itself) are not checked.
3. **What is checked.** A WSGI wrapper in front of moto's dispatcher reads the operation of each request signed with
   a role's key (X-Amz-Target for JSON services, moto's botocore router for REST ones), maps it to the IAM action
   and the resource ARNs the Service Authorization Reference says that action is authorized on (cfn-lint's bundled
   copy, `cfnlint/data/AdditionalSpecs/Policies.json`; an action with no resource types is authorized on `*`), plus
   a few documented special cases (`SPECIAL_ACTIONS`, `Query`/`Scan` with `IndexName`, `kms:Decrypt` of a
   customer-managed key behind an SSM parameter or a secret). It evaluates the role's policies as IAM does
   (explicit Deny wins, then an Allow must match action, resource and condition) and answers a denial exactly as
   the service does (AccessDeniedException / AccessDenied, AWS's message). An operation the data cannot map is
   refused with `UnmappedOperation` (HTTP 500), never allowed.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.signers import RequestSigner

log = logging.getLogger("callhook.local.iam")

ACCOUNT = "123456789012"
REGION = "us-east-1"

# AWS managed policies the SAM transform attaches (their documents are public and stable). Another managed policy
# in the template stops the stack at start: its document is not known here.
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"}]},
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                       "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
         "Resource": "*"}]},
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                       "dynamodb:ListStreams", "logs:CreateLogGroup", "logs:CreateLogStream",
                                       "logs:PutLogEvents"], "Resource": "*"}]},
}

# Operations authorized under another action name (AWS docs: "Actions, resources, and condition keys"; the S3 ones
# from "Required permissions for Amazon S3 API operations"). Everything else is the operation's own name.
SPECIAL_ACTIONS: dict[tuple[str, str], str] = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "ListParts"): "ListMultipartUploadParts",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",  # and s3:GetObject on the source, see _requirements
    ("s3", "UploadPartCopy"): "PutObject",
}
# The SigV4 signing name of a request -> the botocore service model that parses it (the IAM prefix is the signing
# name for every service the stack serves).
MODEL_OF_SIGNING_NAME = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}  # as on AWS, even under an explicit Deny


class UnmappedOperation(Exception):
    """The Service Authorization Reference (and our special cases) cannot say what this operation is authorized
    on. Refused loudly: allowing it would hide a missing permission."""


# ---------------------------------------------------------------------------------------------- identities
@dataclass(frozen=True)
class Identity:
    """A principal the stack signs for: a role's session, or a service principal invoking a function."""

    name: str  # the role's name, or the service principal (events.amazonaws.com)
    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>, or the principal
    access_key: str
    secret_key: str
    token: str
    policies: tuple[dict[str, Any], ...] = ()  # identity policies (a role's); empty for a service principal
    source_arn: str | None = None  # a service principal's aws:SourceArn (the rule that invokes)

    @property
    def credentials(self) -> ReadOnlyCredentials:
        return ReadOnlyCredentials(self.access_key, self.secret_key, self.token)


@dataclass(frozen=True)
class Permission:
    """An AWS::Lambda::Permission: `principal` may `action` on `function_arn` (when its SourceArn matches)."""

    function_arn: str
    action: str
    principal: str
    source_arn: str | None


@dataclass
class Registry:
    by_key: dict[str, Identity] = field(default_factory=dict)
    permissions: list[Permission] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, identity: Identity) -> Identity:
        with self.lock:
            self.by_key[identity.access_key] = identity
        return identity


REGISTRY = Registry()
STATE_MACHINES: dict[str, Identity] = {}  # state machine ARN -> its role's session (signs the Task invocations)
_current = threading.local()
_serving = threading.local()


def current_identity() -> Identity | None:
    return getattr(_current, "identity", None)


def current_caller() -> Identity | None:
    """The identity whose request this thread of moto's server is serving now (None: an unchecked caller). A
    function invoked from inside that request (a stream delivered inside a write) is nested in the caller's call."""
    return getattr(_serving, "identity", None)


@contextlib.contextmanager
def serving(identity: Identity | None) -> Iterator[None]:
    """This thread serves a request of `identity` (already authorized) inside the block: what `authorize` sets
    around moto's dispatch, for a call made into a backend directly (task_invoke.py)."""
    previous, _serving.identity = current_caller(), identity
    try:
        yield
    finally:
        _serving.identity = previous


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """AWS calls made on this thread inside the block are signed with `identity`'s credentials (None: the
    client's own)."""
    previous = current_identity()
    _current.identity = identity
    try:
        yield
    finally:
        _current.identity = previous


def role_session(role_name: str, policies: list[dict[str, Any]], session: str) -> Identity:
    """Temporary credentials of `role_name` from moto's STS (as Lambda gets them), registered with its policies."""
    from moto.sts.models import sts_backends

    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    assumed = sts_backends[ACCOUNT]["aws"].assume_role(
        region_name=REGION, role_session_name=session, role_arn=role_arn, policy="", duration=43200, external_id="")
    return REGISTRY.add(Identity(name=role_name, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}",
                                 access_key=assumed.access_key_id, secret_key=assumed.secret_access_key,
                                 token=assumed.session_token, policies=tuple(policies)))


_USER_SESSIONS: dict[str, Identity] = {}


def function_role_session(function_name: str, role_arn: str) -> Identity:
    """The session of a function created through the Lambda API: its role's policies as they stand in moto's IAM
    now (inline and attached managed ones), read again on every call so that a policy change applies at once."""
    from moto.iam.models import iam_backends

    role = iam_backends[ACCOUNT]["global"].get_role_by_arn(role_arn)
    documents = [json.loads(doc) if isinstance(doc, str) else doc for doc in role.policies.values()]
    for managed in role.managed_policies.values():
        document = MANAGED_POLICIES.get(managed.arn) or next(
            (v.document for v in managed.versions if v.is_default_version), "{}")
        documents.append(json.loads(document) if isinstance(document, str) else document)
    known = _USER_SESSIONS.get(function_name)
    if known is None or known.name != role.name:
        known = role_session(role.name, [], session=function_name)
    _USER_SESSIONS[function_name] = REGISTRY.add(Identity(
        name=known.name, arn=known.arn, access_key=known.access_key, secret_key=known.secret_key, token=known.token,
        policies=tuple(documents)))
    return _USER_SESSIONS[function_name]


def service_principal(principal: str, source_arn: str) -> Identity:
    """Credentials standing for `principal` (events.amazonaws.com) acting for `source_arn` (its rule)."""
    key = "ASIASVC" + uuid.uuid4().hex[:13].upper()
    return REGISTRY.add(Identity(name=principal, arn=principal, access_key=key, secret_key=uuid.uuid4().hex,
                                 token="", source_arn=source_arn))


# ---------------------------------------------------------------------------------------------- the SAM transform
def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create (code locations replaced, as `sam package` does)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    packaged = copy.deepcopy(template)
    for res in packaged["Resources"].values():
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in res.get("Properties", {}):
                res["Properties"][key] = f"s3://callhook-local-package/{key}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return dict(translator.translate(packaged, parameter_values={}, get_managed_policy_map=dict))


def role_documents(role: dict[str, Any], resolve: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """The policy documents of a transformed `AWS::IAM::Role`: inline ones resolved, managed ones looked up."""
    props = role["Properties"]
    documents = [resolve(p["PolicyDocument"]) for p in props.get("Policies", [])]
    for arn in props.get("ManagedPolicyArns", []):
        arn = resolve(arn)
        if arn not in MANAGED_POLICIES:
            raise ValueError(f"managed policy {arn}: its document is not known to the local stack (iam.py)")
        documents.append(MANAGED_POLICIES[arn])
    return documents


# ---------------------------------------------------------------------------------------------- the reference data
@functools.cache
def reference() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: prefix -> {Actions: {action: {Resources}}}."""
    import cfnlint

    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return dict(json.loads(path.read_text()))


def resource_types(prefix: str, action: str) -> list[str] | None:
    """Resource types `prefix:action` is authorized on ([] = none: only `*`); None when the action is unknown."""
    service = reference().get(prefix)
    if service is None:
        return None
    entry = service["Actions"].get(action.lower())
    if entry is None:
        return None
    return list(entry.get("Resources", []))


def supports_resource_level(action: str) -> bool | None:
    """Whether `prefix:Action` (no wildcards) can be scoped to an ARN; None when the reference does not know it."""
    prefix, _, name = action.partition(":")
    types = resource_types(prefix.lower(), name)
    return None if types is None else bool(types)


def _arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


def _function_arn(name: str) -> str:
    name = unquote(name)
    if name.startswith("arn:"):
        return name
    if ":" in name:  # 123456789012:function:name or name:qualifier
        parts = name.split(":")
        return _arn("lambda", f"function:{parts[-1]}") if parts[1:2] == ["function"] else _arn(
            "lambda", f"function:{name}")
    return _arn("lambda", f"function:{name}")


def _secret_arn(secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[ACCOUNT][REGION]
    if secret_id in backend.secrets:
        return str(backend.secrets[secret_id].arn)
    return _arn("secretsmanager", f"secret:{secret_id}")


def _parameter_arn(name: str) -> str:
    return name if name.startswith("arn:") else _arn("ssm", f"parameter/{name.lstrip('/')}")


def _key_arn(key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    return _arn("kms", key_id if key_id.startswith("alias/") else f"key/{key_id}")


# (prefix, resource type) -> the ARNs of that type a request's parameters name
_BUILDERS: dict[tuple[str, str], Callable[[dict[str, Any]], list[str]]] = {
    ("dynamodb", "table"): lambda p: ([_arn("dynamodb", f"table/{p['TableName']}")] if "TableName" in p else
                                      [_arn("dynamodb", f"table/{t}") for t in p.get("RequestItems", {})]),
    ("dynamodb", "index"): lambda p: ([_arn("dynamodb", f"table/{p['TableName']}/index/{p['IndexName']}")]
                                      if "IndexName" in p and "TableName" in p else []),
    ("dynamodb", "stream"): lambda p: [p["StreamArn"]] if "StreamArn" in p else [],
    ("s3", "bucket"): lambda p: [f"arn:aws:s3:::{p['Bucket']}"] if "Bucket" in p else [],
    ("s3", "object"): lambda p: ([f"arn:aws:s3:::{p['Bucket']}/{unquote(p['Key'])}"] if "Key" in p else
                                 [f"arn:aws:s3:::{p['Bucket']}/{key}" for key in p.get("Keys", [])]),
    ("lambda", "function"): lambda p: [_function_arn(p["FunctionName"])] if "FunctionName" in p else [],
    ("states", "statemachine"): lambda p: [p["stateMachineArn"]] if "stateMachineArn" in p else [],
    ("states", "execution"): lambda p: [p["executionArn"]] if "executionArn" in p else [],
    ("ssm", "parameter"): lambda p: ([_parameter_arn(p["Name"])] if "Name" in p else
                                     [_parameter_arn(n) for n in p.get("Names", [])] or
                                     ([_parameter_arn(p["Path"])] if "Path" in p else [])),
    ("secretsmanager", "Secret"): lambda p: [_secret_arn(p["SecretId"])] if "SecretId" in p else [],
    ("kms", "key"): lambda p: [_key_arn(p["KeyId"])] if "KeyId" in p else [],
    ("transcribe", "transcriptionjob"): lambda p: (
        [_arn("transcribe", f"transcription-job/{p['TranscriptionJobName']}")] if "TranscriptionJobName" in p else []),
    ("events", "rule"): lambda p: [_arn("events", f"rule/{p.get('Rule') or p['Name']}")] if (
        "Rule" in p or "Name" in p) else [],
    ("events", "event-bus"): lambda p: [_arn("events", f"event-bus/{p.get('EventBusName', 'default')}")],
}


@dataclass(frozen=True)
class Requirement:
    action: str  # prefix:Action
    resource: str  # an ARN, or * when the action supports no resource-level permissions
    context: tuple[tuple[str, str], ...] = ()  # condition keys the request sets (s3:prefix)


def requirements(prefix: str, operation: str, params: dict[str, Any]) -> list[Requirement]:
    """The (action, resource) pairs IAM checks for one API operation with these parameters."""
    if prefix == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck":
                 "ConditionCheckItem", "Get": "GetItem"}
        out: list[Requirement] = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                out += requirements(prefix, kinds[kind], body)
        return out
    action = SPECIAL_ACTIONS.get((prefix, operation), operation)
    types = resource_types(prefix, action)
    if types is None:
        raise UnmappedOperation(f"{prefix}:{operation}: no action {prefix}:{action} in the Service Authorization "
                                f"Reference (cfn-lint Policies.json) and no special case in callhook_local.iam")
    context = tuple(("s3:prefix", str(params["prefix"])) for _ in [0] if prefix == "s3" and "prefix" in params)
    if not types:
        reqs = [Requirement(f"{prefix}:{action}", "*", context)]
    else:
        arns: list[str] = []
        for rtype in types:
            build = _BUILDERS.get((prefix, rtype))
            arns += build(params) if build else []
        if prefix == "dynamodb" and "IndexName" in params:  # a Query/Scan of an index is authorized on the index
            arns = [a for a in arns if "/index/" in a]
        if prefix == "s3" and ("Key" in params or "Keys" in params):  # on the objects, not the bucket
            arns = [a for a in arns if "/" in a.removeprefix("arn:aws:s3:::")]
        if not arns:
            raise UnmappedOperation(f"{prefix}:{operation}: authorized on {types} but no ARN of those types can be "
                                    f"built from the request's parameters {sorted(params)}")
        reqs = [Requirement(f"{prefix}:{action}", arn, context) for arn in dict.fromkeys(arns)]
    if prefix == "s3" and operation in ("CopyObject", "UploadPartCopy"):
        source = unquote(str(params.get("CopySource", ""))).lstrip("/").split("?")[0]
        reqs.append(Requirement("s3:GetObject", f"arn:aws:s3:::{source}"))
    reqs += _kms_behind(prefix, operation, params)
    return reqs


def _kms_behind(prefix: str, operation: str, params: dict[str, Any]) -> list[Requirement]:
    """SSM and Secrets Manager decrypt with the caller's permissions: a SecureString parameter or a secret under a
    customer-managed key also needs kms:Decrypt on that key (the AWS managed keys grant it through the service)."""
    key_id: str | None = None
    if prefix == "ssm" and operation in ("GetParameter", "GetParameters") and params.get("WithDecryption"):
        from moto.ssm.models import ssm_backends

        names = [params["Name"]] if "Name" in params else list(params.get("Names", []))
        backend = ssm_backends[ACCOUNT][REGION]
        for name in names:
            latest = backend.get_parameter(name)
            if (latest is not None and latest.parameter_type == "SecureString"
                    and latest.keyid not in (None, "alias/aws/ssm")):
                key_id = latest.keyid
    elif prefix == "secretsmanager" and operation == "GetSecretValue" and "SecretId" in params:
        from moto.secretsmanager.models import secretsmanager_backends

        secret = secretsmanager_backends[ACCOUNT][REGION].secrets.get(params["SecretId"])
        kms = getattr(secret, "kms_key_id", None)
        if kms and kms != "alias/aws/secretsmanager":
            key_id = kms
    if key_id is None:
        return []
    from moto.kms.models import kms_backends

    try:
        key_arn = kms_backends[ACCOUNT][REGION].describe_key(key_id).arn
    except Exception:
        key_arn = _key_arn(key_id)
    return [Requirement("kms:Decrypt", key_arn, (("kms:ViaService", f"{prefix}.{REGION}.amazonaws.com"),))]


# ---------------------------------------------------------------------------------------------- evaluation
def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _compiled_glob(pattern, ignore_case).fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _compiled_glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """A policy's `*`/`?` pattern as a regular expression, compiled once: every AWS call a sandbox makes matches each
    statement's actions and resources against it (building the expression each time was 3 % of the stack's CPU)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_CONDITIONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringLike": lambda want, got: _glob(want, got),
    "ArnLike": lambda want, got: _glob(want, got),
    "ArnEquals": lambda want, got: want == got,
}


def _conditions_hold(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        negate = operator.startswith(("StringNot", "ArnNot"))
        base = operator.replace("Not", "", 1) if negate else operator
        test = _CONDITIONS.get(base)
        if test is None:
            raise UnmappedOperation(f"condition operator {operator} is not evaluated by callhook_local.iam")
        for key, wanted in keys.items():
            got = context.get(key)
            matched = got is not None and any(test(str(w), got) for w in _as_list(wanted))
            if matched == negate:
                return False
    return True


def _statement_matches(stmt: dict[str, Any], req: Requirement) -> bool:
    if "Action" in stmt:
        if not any(_glob(a, req.action, ignore_case=True) for a in _as_list(stmt["Action"])):
            return False
    elif any(_glob(a, req.action, ignore_case=True) for a in _as_list(stmt.get("NotAction", []))):
        return False
    if "Resource" in stmt:
        if not any(_glob(r, req.resource) for r in _as_list(stmt["Resource"])):
            return False
    elif any(_glob(r, req.resource) for r in _as_list(stmt.get("NotResource", []))):
        return False
    return _conditions_hold(stmt.get("Condition", {}), dict(req.context))


def evaluate(policies: tuple[dict[str, Any], ...] | list[dict[str, Any]], req: Requirement) -> str:
    """"allowed", "explicit" (an explicit Deny) or "implicit" (no Allow matched), as IAM decides."""
    allowed = False
    for document in policies:
        for stmt in _as_list(document.get("Statement", [])):
            if _statement_matches(stmt, req):
                if stmt.get("Effect") == "Deny":
                    return "explicit"
                allowed = True
    return "allowed" if allowed else "implicit"


def denial_message(identity: Identity, req: Requirement, decision: str) -> str:
    why = ("with an explicit deny in an identity-based policy" if decision == "explicit"
           else f"because no identity-based policy allows the {req.action} action")
    return f"User: {identity.arn} is not authorized to perform: {req.action} on resource: {req.resource} {why}"


def check(identity: Identity, prefix: str, operation: str, params: dict[str, Any]) -> str | None:
    """None when allowed; else AWS's denial message. Raises UnmappedOperation."""
    if identity.source_arn is not None:  # a service principal: only the function's resource policy counts
        return _check_resource_policy(identity, prefix, operation, params)
    for req in requirements(prefix, operation, params):
        if req.action in ALWAYS_ALLOWED:
            continue
        decision = evaluate(identity.policies, req)
        if decision != "allowed":
            return denial_message(identity, req, decision)
    return None


def _missing_object_hidden(identity: Identity, operation: str, params: dict[str, Any]) -> str | None:
    """S3 answers a GET or HEAD of a key that does not exist with 404 only to a caller allowed s3:ListBucket on the
    bucket (unconditionally: the request sets no s3:prefix); anyone else gets 403 AccessDenied, so that a missing
    key cannot be told from a forbidden one ("Required permissions for Amazon S3 API operations", GetObject)."""
    if operation not in ("GetObject", "HeadObject") or "Bucket" not in params or "Key" not in params:
        return None
    from moto.s3.models import s3_backends

    bucket = s3_backends[ACCOUNT]["aws"].buckets.get(params["Bucket"])
    if bucket is None or unquote(str(params["Key"])) in bucket.keys:
        return None
    listing = Requirement("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}")
    if evaluate(identity.policies, listing) == "allowed":
        return None
    return "Access Denied"


def _check_resource_policy(identity: Identity, prefix: str, operation: str, params: dict[str, Any]) -> str | None:
    reqs = requirements(prefix, operation, params)
    if [r.action for r in reqs] != ["lambda:InvokeFunction"]:
        raise UnmappedOperation(f"{identity.name} only invokes functions locally, not {prefix}:{operation}")
    req = reqs[0]
    base, _, rest = req.resource.partition(":function:")
    function_arn = f"{base}:function:{rest.split(':')[0]}"  # a qualified ARN is covered by the function's policy
    for perm in REGISTRY.permissions:  # and by its own (an alias's permission covers that alias only)
        if (perm.function_arn in (function_arn, req.resource) and perm.principal == identity.name
                and _glob(perm.action, req.action, ignore_case=True)
                and (perm.source_arn is None or _glob(perm.source_arn, identity.source_arn or ""))):
            return None
    return (f"User: {identity.name} is not authorized to perform: lambda:InvokeFunction on resource: "
            f"{req.resource} because no resource-based policy allows the lambda:InvokeFunction action")


# ---------------------------------------------------------------------------------------------- the server side
_ACCESS_KEY = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")


@functools.cache
def _service_model(name: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(name)


@functools.cache
def _router(name: str) -> Any:
    from moto.core.routing import get_service_router

    return get_service_router(name)


def operation_of(signing_name: str, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The API operation of a request and the parameters that name its resources."""
    from moto.moto_server.werkzeug_app import BackendRequest as Request

    model_name = MODEL_OF_SIGNING_NAME.get(signing_name, signing_name)
    protocol = _service_model(model_name).protocol
    if protocol == "json":
        body = _read_body(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return target.rsplit(".", 1)[-1], (json.loads(body) if body else {})
    request = Request(environ)
    if protocol in ("query", "ec2"):
        body = _read_body(environ)
        values = dict(request.args) | dict(_parse_form(body))
        return str(values.get("Action", "")), values
    operation, uri_params = _router(model_name).match(request)
    params: dict[str, Any] = {k: unquote(str(v)) for k, v in uri_params.items()}
    params |= {k: v for k, v in request.args.items() if k in ("prefix",)}
    if "HTTP_X_AMZ_COPY_SOURCE" in environ:
        params["CopySource"] = environ["HTTP_X_AMZ_COPY_SOURCE"]
    if operation.name == "DeleteObjects":  # the keys are in the body: s3:DeleteObject on each object
        params["Keys"] = _delete_keys(_read_body(environ))
    return str(operation.name), params


def _delete_keys(body: bytes) -> list[str]:
    from xml.etree import ElementTree

    root = ElementTree.fromstring(body)
    return [str(el.text or "") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def _parse_form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode("utf-8", "replace")))


def _denied(signing_name: str, message: str, start_response: Any) -> list[bytes]:
    model_name = MODEL_OF_SIGNING_NAME.get(signing_name, signing_name)
    protocol = _service_model(model_name).protocol
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        status = "400 Bad Request"
    elif protocol == "rest-json":
        body = json.dumps({"Type": "User", "Message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException"),
                   ("x-amzn-RequestId", request_id)]
        status = "403 Forbidden"
    elif protocol == "rest-xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>{_xml(message)}</Message><RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        status = "403 Forbidden"
    else:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{_xml(message)}'
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
        status = "403 Forbidden"
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _unmapped(message: str, start_response: Any) -> list[bytes]:
    body = json.dumps({"__type": "UnmappedOperation", "message": f"callhook local IAM: {message}"}).encode()
    start_response("500 Internal Server Error", [("Content-Type", "application/json"),
                                                 ("x-amzn-ErrorType", "UnmappedOperation"),
                                                 ("Content-Length", str(len(body)))])
    return [body]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def authorize(app: Callable[..., Any], environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI step in front of moto: requests signed by a registered identity are checked, the rest pass."""
    match = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    identity = REGISTRY.by_key.get(match.group(1)) if match else None
    if identity is None or match is None:
        return app(environ, start_response)
    signing_name = match.group(3)
    try:
        operation, params = operation_of(signing_name, environ)
        message = check(identity, signing_name, operation, params)
    except UnmappedOperation as exc:
        log.error("%s", exc)
        return _unmapped(str(exc), start_response)
    except Exception as exc:  # an unparseable request is refused too, never allowed unchecked
        log.exception("cannot authorize a %s request", signing_name)
        return _unmapped(f"cannot read the {signing_name} operation of this request: {exc!r}", start_response)
    if message is None and signing_name == "s3":
        message = _missing_object_hidden(identity, operation, params)
    if message is not None:
        log.info("AccessDenied: %s", message)
        return _denied(signing_name, message, start_response)
    with serving(identity):
        return app(environ, start_response)


# ---------------------------------------------------------------------------------------------- installation
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Idempotent: the authorizing WSGI step in front of moto's dispatcher, and per-thread signing."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        dispatch = DomainDispatcherApplication.__call__

        def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
            return authorize(lambda e, s: dispatch(self, e, s), environ, start_response)

        DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]

        auth_instance = RequestSigner.get_auth_instance

        def get_auth_instance(self: Any, *args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if identity is not None:
                kwargs["request_credentials"] = Credentials(identity.access_key, identity.secret_key, identity.token)
            return auth_instance(self, *args, **kwargs)

        RequestSigner.get_auth_instance = get_auth_instance  # type: ignore[method-assign]

        submit = ThreadPoolExecutor.submit

        def submit_as_submitter(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if identity is None:
                return submit(self, fn, *args, **kwargs)

            def run(*a: Any, **kw: Any) -> Any:
                with acting_as(identity):
                    return fn(*a, **kw)

            return submit(self, run, *args, **kwargs)

        ThreadPoolExecutor.submit = submit_as_submitter  # type: ignore[method-assign]
        _tasks_invoke_as_the_state_machine()
        _installed = True


def _tasks_invoke_as_the_state_machine() -> None:
    """moto's engine invokes a Task's function with a client of its own: sign those invokes with the role of the
    execution's state machine, so lambda:InvokeFunction is checked against it as on AWS."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    def as_machine(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(env: Any, *args: Any, **kwargs: Any) -> Any:
            machine = env.states.context_object.context_object_data["StateMachine"]["Id"]
            with acting_as(STATE_MACHINES.get(machine)):
                return original(env, *args, **kwargs)

        return run

    for name in ("execute_lambda_function_integration", "exec_lambda_function"):
        setattr(lambda_eval_utils, name, as_machine(getattr(lambda_eval_utils, name)))


# ---------------------------------------------------------------------------------------------- template checks
def scoped_without_resource_support(transformed: dict[str, Any]) -> list[str]:
    """Allow statements of the transformed template's roles that scope to an ARN an action the Service
    Authorization Reference says supports no resource-level permissions (IAM checks those on `*`, so the grant
    never matches), or that name an action the reference does not know. One line per finding."""
    findings: list[str] = []
    for logical, res in transformed["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            for stmt in _as_list(policy["PolicyDocument"].get("Statement", [])):
                if stmt.get("Effect") != "Allow" or "Action" not in stmt:
                    continue
                resources = _as_list(stmt.get("Resource", "*"))
                for action in _as_list(stmt["Action"]):
                    if "*" in action or "?" in action:
                        continue
                    support = supports_resource_level(action)
                    where = f"{logical} {policy['PolicyName']} {stmt.get('Sid', '')}".rstrip()
                    if support is None:
                        findings.append(f"{where}: {action} is not in the Service Authorization Reference")
                    elif not support and resources != ["*"]:
                        findings.append(f"{where}: {action} supports no resource-level permissions but is "
                                        f"scoped to {json.dumps(resources)}; grant it on '*'")
    return findings
