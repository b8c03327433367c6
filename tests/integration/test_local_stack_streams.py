"""DynamoDB streams in the local stack: a table's StreamSpecification and a function's `Type: DynamoDB` event in the
template become a stream and an event source mapping; moto calls the function inside the write.

Run in a subprocess with a template of its own (a table and one stream function): a local stack sets process-wide
settings (AWS_ENDPOINT_URL, MOTO_PORT) that would redirect this test session's own stack. That stack runs one
sandbox per function at most, so the function's write-back, which re-enters it from inside its own write while its
only sandbox waits on that write, shows that a self-triggering function cannot deadlock at the cap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

TEMPLATE = textwrap.dedent('''
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Resources:
      ProbeTable:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      ProbeFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: tests/support/stream_probe/
          Handler: app.handler
          Runtime: python3.13
          Timeout: 30
          Environment:
            Variables:
              PROBE_TABLE: !Ref ProbeTable
          Policies:   # its write-back needs them, as on AWS (the local stack enforces the role's policies)
            - DynamoDBCrudPolicy: {TableName: !Ref ProbeTable}
          Events:
            Changes:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt ProbeTable.StreamArn
                StartingPosition: TRIM_HORIZON
''')

SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from callhook_local.sandbox import log_functions_to
    from callhook_local.stack import LocalStack
    from tests.conftest import free_port

    log_functions_to(sys.stdout)  # the functions' output and REPORT lines, as `make run` prints them

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-streams",
                       template_path=Path(sys.argv[1]), max_sandboxes=1).start()
    try:
        ddb = stack.client("dynamodb")
        table = stack.env["PROBE_TABLE"]
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "name": {"S": "ann"}})
        after_put = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "name": {"S": "anna"}})
        after_second = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
        pool = stack.sandboxes.pools[stack.physical("ProbeFunction")]
        print("RESULT " + json.dumps({"after_put": after_put, "after_second": after_second,
                                      "invocations": pool.invocations, "sandboxes": pool.started}), flush=True)
    finally:
        stack.stop()
''')


def test_a_stream_function_from_the_template_runs_inside_the_write_and_its_write_back_ends(tmp_path: Path) -> None:
    # Given a template with a streamed table and a function on its stream that writes a derived attribute back
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    # When items are put, then replaced
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(template)], capture_output=True, text=True,
                            timeout=180, check=False,
                            env={"PYTHONPATH": ".:layers/common/python:local:cli", "PATH": "/usr/bin:/bin",
                                 "POWERTOOLS_SERVICE_NAME": "callhook", "POWERTOOLS_METRICS_NAMESPACE": "Callhook"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stderr[-3000:]
    found = json.loads(lines[0].removeprefix("RESULT "))
    # Then the derived attribute is there as soon as the write returns (the function ran inside it), follows a
    # change, and the function's own writes did not re-trigger it without end
    assert found["after_put"]["upper"] == {"S": "ANN"}
    assert found["after_second"]["upper"] == {"S": "ANNA"}
    assert 2 <= found["invocations"] < 20
    # And the re-entry got a second sandbox although the cap is one: nested in its own call, it never waits
    assert found["sandboxes"] == 2
    # And each invocation was logged as Lambda logs it, the first one a cold start
    reports = [line for line in result.stdout.splitlines() if line.startswith("REPORT RequestId: ")]
    assert len(reports) == found["invocations"]
    assert sum("Init Duration: " in line for line in reports) == 2
