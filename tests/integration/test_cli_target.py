"""The one target resolver: a deployed stack found through CloudFormation's DescribeStacks (here: a real
CloudFormation stack created in the local moto server), samconfig.toml environments, and one-line failures when
the stack, the local stack or the credentials are missing.

These run the installed console script in a subprocess: pointing the CLI at another stack or endpoint must not
change this process's environment, where the local stack's functions run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callhook.aws import from_item
from tests.conftest import free_port
from tests.integration.test_cli_support import Cli, run_script, write_json
from tests.support.stack import StackClient, unique

OUTPUTS = ("DialogsTable", "EventsTable", "OperatorsTable", "TopicsTable", "ActionsTable", "SettingsTable",
           "RecordingsBucket")


@pytest.fixture(scope="module")
def deployed(stack: StackClient) -> str:
    """A CloudFormation stack (moto creates its DynamoDB table) whose Outputs are shaped like template.yaml's."""
    name = unique("callhook-deployed")
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"ChannelsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "channel_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "channel_id", "KeyType": "HASH"}]}}},
        "Outputs": {
            "ChannelsTable": {"Value": {"Ref": "ChannelsTable"}},
            "StateMachineArn": {"Value": "arn:aws:states:us-east-1:123456789012:stateMachine:deployed-DialogWorkflow"},
            "WebhookUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/dev"},
            **{output: {"Value": f"{name}-{output}"} for output in OUTPUTS},
        },
    }
    stack.stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def aws_env(stack: StackClient) -> dict[str, str]:
    """The usual AWS configuration of a deployed target, its endpoint being the local moto server."""
    return {"AWS_ENDPOINT_URL": stack.stack.endpoint, "AWS_ACCESS_KEY_ID": "deployed", "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def test_deployed_stack_is_resolved_from_its_cloudformation_outputs(stack: StackClient, deployed: str,
                                                                    tmp_path: Path) -> None:
    # Given the deployed stack's outputs
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.stack.client("cloudformation").describe_stacks(
        StackName=deployed)["Stacks"][0]["Outputs"]}
    channel_id = unique("dep")
    path = write_json(tmp_path / "channel.json", {"channel_id": channel_id, "name": "Deployed"})
    # When the CLI targets it by name (no --local)
    target = run_script("--stack", deployed, "--json", "target", env=aws_env(stack)).json()
    saved = run_script("--stack", deployed, "--json", "channel", "put", path, env=aws_env(stack)).json()
    # Then it used the stack's outputs: the channel is in the table CloudFormation created
    assert target["stack"] == deployed
    assert target["local"] is False
    assert target["outputs"] == outputs
    assert saved["webhook_url"] == f"https://abc123.execute-api.us-east-1.amazonaws.com/dev/webhooks/{channel_id}"
    item = stack.stack.client("dynamodb").get_item(TableName=outputs["ChannelsTable"],
                                                   Key={"channel_id": {"S": channel_id}})["Item"]
    assert from_item(item)["name"] == "Deployed"
    assert channel_id not in {c["channel_id"] for c in Cli(stack.stack).json("channel", "list")}


def test_env_picks_the_stack_from_samconfig(stack: StackClient, deployed: str, tmp_path: Path) -> None:
    # Given a samconfig.toml with an environment naming the stack (in a parent of the working directory)
    (tmp_path / "samconfig.toml").write_text(
        f'version = 0.1\n[staging.deploy.parameters]\nstack_name = "{deployed}"\nregion = "us-east-1"\n')
    workdir = tmp_path / "sub"
    workdir.mkdir()
    # When
    target = run_script("--env", "staging", "--json", "target", env=aws_env(stack), cwd=workdir).json()
    unknown = run_script("--env", "qa", "target", env=aws_env(stack), cwd=workdir)
    # Then
    assert target["stack"] == deployed
    assert target["region"] == "us-east-1"
    assert "has no environment 'qa' (it has: staging)" in unknown.error


def test_missing_stack_is_a_one_line_error(stack: StackClient) -> None:
    outcome = run_script("--stack", "callhook-nowhere", "channel", "list", env=aws_env(stack))
    assert "stack 'callhook-nowhere' not found in region us-east-1" in outcome.error


def test_no_credentials_is_a_one_line_error(stack: StackClient, tmp_path: Path) -> None:
    env = {k: v for k, v in aws_env(stack).items() if not k.startswith("AWS_ACCESS") and "SECRET" not in k}
    env |= {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    outcome = run_script("--stack", "callhook-dev", "channel", "list", env=env)
    assert "no AWS credentials" in outcome.error


def test_local_without_a_running_stack_is_a_one_line_error() -> None:
    port = free_port()
    outcome = run_script("--local", "dialog", "list", "--channel", "c", env={"CALLHOOK_AWS_PORT": str(port)})
    assert f"no local stack at http://127.0.0.1:{port}: start it with `make run`" in outcome.error


def test_local_resolves_the_local_stack_through_its_published_outputs(stack: StackClient) -> None:
    # The local stack publishes its outputs as a CloudFormation stack of its name: --local reads them like any stack
    target = Cli(stack.stack).json("target")
    assert target["stack"] == stack.stack.name
    assert target["local"] is True
    assert target["outputs"] == stack.stack.outputs
