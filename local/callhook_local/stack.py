"""The local stack: moto serving AWS on 127.0.0.1:5000 in this process, with the resources of template.yaml.

Everything is created from template.yaml and the ASL file (no second list): tables with their keys and indexes,
the bucket, one Lambda function per `AWS::Serverless::Function` (its Handler runs in sandboxes of its own, worker
processes with its environment and role, see sandbox.py),
the state machine with SAM's DefinitionSubstitutions applied, and the webhook API routes (api.py). A table's
`StreamSpecification` gives it a stream, and a function's `Type: DynamoDB` event an event source mapping on it: moto
then calls the function synchronously inside each write to the table (see _connect_stream).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.core.config import default_user_config

from callhook_local import iam, invoker, moto_speedups, streams, task_invoke
from callhook_local.api import Route, WebhookApi
from callhook_local.keepalive import KeepAliveMotoServer
from callhook_local.sandbox import Sandboxes
from callhook_local.template import ROOT, Resolver, load_template, resources_of_type, substitute_definition
from callhook_local.transcribe import TranscribeEngine
from callhook_local.ttl import TtlSweeper

log = logging.getLogger("callhook.local")

ACCOUNT = "123456789012"
REGION = "us-east-1"
SKIPPED_TYPES = {"AWS::Serverless::LayerVersion": "the layer's code is on sys.path",
                 "AWS::Serverless::HttpApi": "served by callhook_local.api",
                 "AWS::Lambda::Permission": "resource policies of the functions, enforced by callhook_local.iam",
                 "AWS::S3::BucketPolicy": "moto does not enforce bucket policies (TLS-only is a deployed guarantee)",
                 "AWS::SQS::QueuePolicy": "EventBridge's delivery to the queue is not emulated locally",
                 "AWS::Logs::LogGroup": "the functions log to this process's output",
                 "AWS::CloudWatch::Dashboard": "no CloudWatch locally"}


def quiet_moto_noise() -> None:
    """moto's access log and its parser's handled-failure tracebacks drown our functions' structured logs."""
    for name in ("werkzeug", "moto.stepfunctions.parser", "moto"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass
class LocalStack:
    host: str = "127.0.0.1"
    aws_port: int = 5000
    api_port: int = 3000
    name: str = "callhook-local"
    template_path: Path = ROOT / "template.yaml"
    # The functions' variables, for this process's own tools (tests, the demo seed): each function's sandbox gets
    # its own environment (sandbox.py); a variable two functions set differently holds the first one's value here.
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # template parameter overrides, as sam deploy takes
    routes: list[Route] = field(default_factory=list)
    schedules: list[tuple[str, float, str]] = field(default_factory=list)  # (function, every N seconds, rule ARN)
    roles: dict[str, iam.Identity] = field(default_factory=dict)  # role logical id -> its session (iam.py)
    max_sandboxes: int = 10  # per function (sandbox.py)
    sandbox_idle_s: float = 300.0  # a sandbox free this long is reclaimed (sandbox.py)
    # Variables set on every function over the template's, as `sam local start-api --env-vars` does; by default
    # from CALLHOOK_FUNCTION_ENV (a JSON object), e.g. {"POWERTOOLS_METRICS_DISABLED": "true"} in the benchmarks.
    function_env: dict[str, str] | None = None
    sandboxes: Sandboxes | None = None
    # InvocationType=Event: Lambda retries a failed event after about 1 then 2 minutes; locally after these delays
    async_retry_delays_s: tuple[float, ...] = (0.5, 1.0)
    async_invokes: invoker.AsyncInvokes | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    server: KeepAliveMotoServer | None = None  # moto's ThreadedMotoServer, with keep-alive connections
    api: WebhookApi | None = None
    transcribe: TranscribeEngine | None = None  # completes Transcribe jobs with faster-whisper (transcribe.py)
    ttl: TtlSweeper | None = None  # expires items as DynamoDB TTL does (ttl.py); tests move its clock

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api.port if self.api else self.api_port}"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        quiet_moto_noise()
        if self.function_env is None:
            self.function_env = function_env_from(os.environ.get("CALLHOOK_FUNCTION_ENV", ""))
        self._process_environment()
        self.sandboxes = Sandboxes(max_per_function=self.max_sandboxes, idle_s=self.sandbox_idle_s)
        invoker.REGISTRY.sandboxes, invoker.REGISTRY.endpoint = self.sandboxes, self.endpoint
        self.async_invokes = invoker.ASYNC = invoker.AsyncInvokes(invoker.invoke_function,
                                                                  retry_delays_s=self.async_retry_delays_s)
        invoker.install()
        moto_speedups.install()
        streams.install()
        iam.install()
        task_invoke.install()  # the state machine's Task invokes: to Lambda in this process, as the machine's role
        # Must precede any CreateStateMachine: the flag switches moto to the backend that executes ASL.
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self.server = KeepAliveMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self.server.start()
        self.create_resources()
        self.transcribe = TranscribeEngine(self).start()
        self.ttl = TtlSweeper(self.client("dynamodb"), self._ttl_tables()).start()
        os.environ.update(self.env)
        _reset_callhook_caches()
        self.api = WebhookApi(self.routes, self.host, self.api_port)
        self.api.start()
        for function_name, every, rule_arn in self.schedules:
            threading.Thread(target=self._run_schedule, args=(function_name, every, rule_arn), daemon=True,
                             name=f"schedule-{function_name}").start()
        return self

    def _run_schedule(self, function_name: str, every: float, rule_arn: str) -> None:
        """What an EventBridge schedule does: invoke the function asynchronously with a scheduled event, every
        `every` seconds, as events.amazonaws.com for the schedule's rule (the function's resource policy must allow
        it); Lambda then retries a failure as for any asynchronous invoke."""
        lam = self.client("lambda")
        while not self._stopping.wait(every):
            event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
            try:
                with iam.acting_as(self.rule_identity(rule_arn)):
                    lam.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())
            except Exception:
                log.exception("scheduled invocation of %s failed", function_name)

    def rule_identity(self, rule_arn: str) -> iam.Identity:
        """EventBridge (events.amazonaws.com) delivering for the rule `rule_arn`: what a function's resource policy
        (AWS::Lambda::Permission) is checked against."""
        key = f"events:{rule_arn}"
        if key not in self.roles:
            self.roles[key] = iam.service_principal("events.amazonaws.com", rule_arn)
        return self.roles[key]

    def stop(self) -> None:
        self._stopping.set()
        if self.api:
            self.api.stop()
        if self.transcribe:
            self.transcribe.stop()
        if self.ttl:
            self.ttl.stop()
        if self.async_invokes:  # queued events are dropped, running ones get a few seconds to finish
            self.async_invokes.stop()
        if self.server:
            self.server.stop()
        if self.sandboxes:
            self.sandboxes.stop()
        if self.async_invokes:
            self.async_invokes.join()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _process_environment(self) -> None:
        """Our handlers and moto's Step Functions engine talk to this endpoint; credentials are dummies."""
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "MOTO_PORT": str(self.aws_port),  # moto's engine invokes Lambda through http://localhost:$MOTO_PORT
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Callhook",
        })
        os.environ.pop("AWS_PROFILE", None)

    # ------------------------------------------------------------------ resources
    def physical(self, logical_id: str) -> str:
        return f"{self.name}-{logical_id}"

    def _ttl_tables(self) -> dict[str, str]:
        """Table name -> TTL attribute, for the tables whose TimeToLiveSpecification is enabled."""
        tables = resources_of_type(load_template(self.template_path), "AWS::DynamoDB::Table")
        return {self.physical(logical): spec["AttributeName"] for logical, res in tables.items()
                if (spec := res["Properties"].get("TimeToLiveSpecification", {})).get("Enabled")}

    def create_resources(self) -> None:
        template = load_template(self.template_path)
        resources = template["Resources"]
        refs: dict[str, str] = {p: str(d.get("Default", "")) for p, d in template.get("Parameters", {}).items()}
        unknown = set(self.parameters) - set(refs)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        refs |= self.parameters
        refs |= {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                 "AWS::StackName": self.name, "AWS::URLSuffix": "amazonaws.com"}
        attrs: dict[str, str] = {}
        for logical, res in resources.items():
            name = self.physical(logical)
            kind = res["Type"]
            if kind == "AWS::S3::Bucket":
                name = name.lower()
                attrs[f"{logical}.Arn"] = f"arn:aws:s3:::{name}"
            elif kind == "AWS::SQS::Queue":  # !Ref is the queue URL, as on AWS
                attrs |= {f"{logical}.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", f"{logical}.QueueName": name}
                refs[logical] = f"{self.endpoint}/{ACCOUNT}/{name}"
                continue
            elif kind == "AWS::DynamoDB::Table":
                attrs[f"{logical}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            elif kind == "AWS::Serverless::Function":
                attrs[f"{logical}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
                if alias := res["Properties"].get("AutoPublishAlias"):  # SAM's alias resource, as its events use it
                    refs[f"{logical}Alias{alias}"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:{alias}"
            elif kind == "AWS::Events::Rule":
                attrs[f"{logical}.Arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
            elif kind == "AWS::Serverless::StateMachine":
                arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
                attrs |= {f"{logical}.Arn": arn, f"{logical}.Name": name}
                refs[logical] = arn
                continue
            refs[logical] = name
        resolver = Resolver(refs, attrs)
        transformed = iam.sam_transform(template)
        for logical, res in transformed["Resources"].items():  # the rules SAM makes for Schedule events
            if res["Type"] == "AWS::Events::Rule" and f"{logical}.Arn" not in attrs:
                attrs[f"{logical}.Arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.physical(logical)}"

        for logical, res in resources_of_type(template, "AWS::DynamoDB::Table").items():
            stream_arn = self._create_table(refs[logical], res["Properties"])
            if stream_arn:  # known only once the table exists: moto names the stream by its creation time
                attrs[f"{logical}.StreamArn"] = stream_arn
        for logical in resources_of_type(template, "AWS::S3::Bucket"):
            self.client("s3").create_bucket(Bucket=refs[logical])
        for logical in resources_of_type(template, "AWS::SQS::Queue"):
            created = self.client("sqs").create_queue(QueueName=attrs[f"{logical}.QueueName"])["QueueUrl"]
            assert created == refs[logical], (created, refs[logical])
        self._create_roles(transformed, resolver)
        self._create_functions(template, transformed, resolver)
        for logical, res in resources_of_type(template, "AWS::Events::Rule").items():
            self._create_rule(refs[logical], res["Properties"], resolver)
        for logical, res in resources_of_type(template, "AWS::Serverless::StateMachine").items():
            self._create_state_machine(attrs[f"{logical}.Name"], res["Properties"], resolver,
                                       self._role_of(transformed, logical, "RoleArn"))
        for logical, out in template.get("Outputs", {}).items():
            try:
                self.outputs[logical] = str(resolver.resolve(out["Value"]))
            except KeyError:
                continue
        self.outputs["WebhookUrl"] = self.api_url
        self._publish_outputs()
        for logical, res in resources.items():
            if res["Type"] in SKIPPED_TYPES:
                log.debug("%s (%s): %s", logical, res["Type"], SKIPPED_TYPES[res["Type"]])

    def _publish_outputs(self) -> None:
        """Publish the Outputs as a CloudFormation stack named `self.name`, so that `callhook --local` (and anything
        else) reads the local stack exactly as it reads a deployed one, with DescribeStacks.

        The resources above are created directly (moto's CloudFormation knows no SAM types); this stack holds only
        a marker parameter and the Outputs, and its description says so.
        """
        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "callhook local stack: its resources were created directly in moto by callhook_local; "
                           "this stack publishes only their names (the Outputs of template.yaml)",
            "Resources": {"LocalStackMarker": {"Type": "AWS::SSM::Parameter", "Properties": {
                "Name": f"/callhook/local/{self.name}", "Type": "String", "Value": self.endpoint}}},
            "Outputs": {name: {"Value": value} for name, value in self.outputs.items()},
        }
        self.client("cloudformation").create_stack(StackName=self.name, TemplateBody=json.dumps(template))

    def _create_rule(self, name: str, props: dict[str, Any], resolver: Resolver) -> None:
        """An EventBridge rule and its targets; moto stores them, callhook_local.transcribe delivers to them."""
        events = self.client("events")
        rule: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED"),
                                "Description": props.get("Description", "")}
        if "EventPattern" in props:
            rule["EventPattern"] = json.dumps(resolver.resolve(props["EventPattern"]))
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        events.put_rule(**rule)
        targets = [{"Id": t["Id"], "Arn": str(resolver.resolve(t["Arn"]))} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, Targets=targets)

    def _create_table(self, name: str, props: dict[str, Any]) -> str | None:
        """Create the table; returns its stream's ARN when the template gives it a `StreamSpecification`."""
        spec = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
                if k in props}
        if "StreamSpecification" in props:  # CloudFormation's form has no StreamEnabled; the API's needs it
            spec["StreamSpecification"] = {"StreamEnabled": True,
                                           "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
        table = self.client("dynamodb").create_table(TableName=name, **spec)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):  # CloudFormation enables it with the table; the API takes a second call
            self.client("dynamodb").update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        return table.get("LatestStreamArn")

    def _connect_stream(self, function_name: str, props: dict[str, Any], resolver: Resolver) -> None:
        """A `Type: DynamoDB` event: an event source mapping from the table's stream to the function.

        moto then invokes the function synchronously inside every PutItem/UpdateItem/DeleteItem of the table, with
        the records still pending in the shard (the write answers only after the function returns). A function that
        writes back to its own table is re-entered from inside its own write, so it must write only when something
        changes, as on AWS. The mapping's FilterCriteria is applied (streams.py: a function none of whose records
        match is not invoked), a failed batch is retried MaximumRetryAttempts times and then named in its
        on-failure queue, and TTL's removals (ttl.py) carry its userIdentity. Not applied: BatchSize, bisecting.
        """
        stream_arn = str(resolver.resolve(props["Stream"]))
        mapping: dict[str, Any] = {"FilterCriteria": props["FilterCriteria"]} if "FilterCriteria" in props else {}
        if "MaximumRetryAttempts" in props:
            mapping["MaximumRetryAttempts"] = int(props["MaximumRetryAttempts"])
        if "BisectBatchOnFunctionError" in props:
            mapping["BisectBatchOnFunctionError"] = bool(props["BisectBatchOnFunctionError"])
        on_failure = (props.get("DestinationConfig") or {}).get("OnFailure")
        if on_failure:
            mapping["DestinationConfig"] = {"OnFailure": {"Destination": str(resolver.resolve(
                on_failure["Destination"]))}}
        self.client("lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=function_name,
            StartingPosition=props.get("StartingPosition", "LATEST"), BatchSize=int(props.get("BatchSize", 100)),
            **mapping)  # FilterCriteria, retries, on-failure destination: applied by callhook_local.streams

    def _create_roles(self, transformed: dict[str, Any], resolver: Resolver) -> None:
        """The IAM roles of the SAM transform (one per function, one per state machine) with the policies that
        deploy, each with a session's temporary credentials (see iam.py), and the functions' resource policies."""
        client = self.client("iam")
        for logical, res in transformed["Resources"].items():
            if res["Type"] == "AWS::IAM::Role":
                name = self.physical(logical)[:64]
                documents = iam.role_documents(res, resolver.resolve)
                client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
                    res["Properties"]["AssumeRolePolicyDocument"]))
                for index, document in enumerate(documents):
                    client.put_role_policy(RoleName=name, PolicyName=f"{logical}Policy{index}",
                                           PolicyDocument=json.dumps({"Version": "2012-10-17", **document}))
                self.roles[logical] = iam.role_session(name, documents, session=self.physical(logical))
            elif res["Type"] == "AWS::Lambda::Permission":
                props = resolver.resolve(res["Properties"])
                iam.REGISTRY.permissions.append(iam.Permission(
                    function_arn=iam._function_arn(str(props["FunctionName"])), action=str(props["Action"]),
                    principal=str(props["Principal"]), source_arn=props.get("SourceArn")))

    def _role_of(self, transformed: dict[str, Any], logical: str, key: str) -> iam.Identity:
        role = transformed["Resources"][logical]["Properties"][key]  # {"Fn::GetAtt": [<role>, "Arn"]}
        return self.roles[role["Fn::GetAtt"][0]]

    def _create_functions(self, template: dict[str, Any], transformed: dict[str, Any], resolver: Resolver) -> None:
        globals_fn = template.get("Globals", {}).get("Function", {})
        global_env = globals_fn.get("Environment", {}).get("Variables", {})
        lam = self.client("lambda")
        for logical, res in resources_of_type(template, "AWS::Serverless::Function").items():
            props = res["Properties"]
            name = resolver.refs[logical]
            env = {k: str(v) for k, v in resolver.resolve(
                {**global_env, **props.get("Environment", {}).get("Variables", {})}).items()}
            env |= self.function_env or {}
            for key, value in env.items():
                self.env.setdefault(key, value)
            module, attribute = invoker.code_location(props["CodeUri"], props["Handler"])
            identity = self._role_of(transformed, logical, "Role")
            snapstart = props.get("SnapStart", globals_fn.get("SnapStart", {})).get("ApplyOn") == "PublishedVersions"
            invoker.REGISTRY.functions[name] = invoker.FunctionCode(
                module=module, attribute=attribute, timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
                memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))), identity=identity,
                snapstart=snapstart)
            if "DeadLetterQueue" in props:  # a failed asynchronous invoke lands there (invoker.py)
                arn = str(resolver.resolve(props["DeadLetterQueue"]["TargetArn"]))
                invoker.REGISTRY.dead_letters[name] = f"{self.endpoint}/{ACCOUNT}/{arn.rsplit(':', 1)[-1]}"
            code = invoker.REGISTRY.functions[name]
            lam.create_function(FunctionName=name, Runtime=props.get("Runtime", globals_fn.get("Runtime")),
                                Role=f"arn:aws:iam::{ACCOUNT}:role/{identity.name}", Handler=props["Handler"],
                                Code={"ZipFile": _placeholder_zip()}, Environment={"Variables": env},
                                Timeout=code.timeout_s, MemorySize=code.memory_mb)
            alias = props.get("AutoPublishAlias")
            if alias:  # what `sam deploy` does: publish a version of this configuration, the alias points at it
                version = lam.publish_version(FunctionName=name)["Version"]
                lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
            if "EventInvokeConfig" in props:  # the asynchronous invoke's retries and destinations (invoker.py)
                lam.put_function_event_invoke_config(FunctionName=name, **event_invoke_config(
                    resolver.resolve(props["EventInvokeConfig"])))
            for event_name, event in props.get("Events", {}).items():
                if event["Type"] == "HttpApi":
                    method, path = event["Properties"]["Method"].upper(), event["Properties"]["Path"]
                    api = resolver.resolve(event["Properties"].get("ApiId", "ServerlessHttpApi"))
                    source = re.sub(r"\{[^}]+\}", "x", f"{api}/$default/{method}{path}")  # a request of the route
                    caller = iam.service_principal("apigateway.amazonaws.com",
                                                   f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{source}")
                    self.routes.append(Route(method=method, path=path, function_name=name, invoker=caller,
                                             qualifier=alias or "$LATEST"))  # SAM integrates the alias
                elif event["Type"] == "Schedule":  # EventBridge schedules become timers (see _run_schedules)
                    self.schedules.append((name, rate_seconds(event["Properties"]["Schedule"]),
                                           resolver.attrs[f"{logical}{event_name}.Arn"]))
                elif event["Type"] == "DynamoDB":
                    self._connect_stream(name, event["Properties"], resolver)

    def _create_state_machine(self, name: str, props: dict[str, Any], resolver: Resolver,
                              role: iam.Identity) -> None:
        definition = (self.template_path.parent / props["DefinitionUri"]).read_text()
        substitutions = {k: str(v) for k, v in resolver.resolve(props.get("DefinitionSubstitutions", {})).items()}
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=substitute_definition(definition, substitutions),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{role.name}", type=props.get("Type", "STANDARD"))["stateMachineArn"]
        iam.STATE_MACHINES[arn] = role


def function_env_from(text: str) -> dict[str, str]:
    """CALLHOOK_FUNCTION_ENV: a JSON object of variables for every function ('' for none)."""
    if not text.strip():
        return {}
    try:
        variables = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"CALLHOOK_FUNCTION_ENV is not a JSON object of variables: {exc}") from exc
    if not isinstance(variables, dict):
        raise ValueError("CALLHOOK_FUNCTION_ENV is not a JSON object of variables")
    return {str(k): str(v) for k, v in variables.items()}


def event_invoke_config(sam: dict[str, Any]) -> dict[str, Any]:
    """SAM's `EventInvokeConfig` as PutFunctionEventInvokeConfig takes it (a destination with its ARN only)."""
    config = {k: int(sam[k]) for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in sam}
    destinations = {when: {"Destination": str(spec["Destination"])}
                    for when, spec in (sam.get("DestinationConfig") or {}).items() if spec.get("Destination")}
    if destinations:
        config["DestinationConfig"] = destinations
    return config


def rate_seconds(expression: str) -> float:
    """`rate(5 minutes)` -> 300. Cron schedules are not run locally (none in the template)."""
    value, unit = expression.strip()[len("rate("):-1].split()
    return float(value) * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400,
                           "days": 86400}[unit]


def _placeholder_zip() -> bytes:
    """moto wants code bytes; the real code is imported by the function's sandboxes from CodeUri."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "callhook local stack: the handler runs from the repository in its sandboxes")
    return buf.getvalue()


def _reset_callhook_caches() -> None:
    from callhook.aws import reset_clients
    from callhook.repositories.config import clear_channel_cache
    from callhook.settings import clear_settings_cache

    reset_clients()
    clear_settings_cache()
    clear_channel_cache()
