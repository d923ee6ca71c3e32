#!/usr/bin/env python3
"""Creates Hookline's table and queues on an AWS emulator (moto) and prints the functions'
settings as an env file for `cargo lambda watch --env-file` (and `local-poller.py`).

Usage: local-aws.py ENDPOINT > .env.local

The settings are for development on one machine: the keys are the local development ones (the
sample events' token is signed with the auth key), and deliveries may go to plain `http://`
receivers on loopback (127.0.0.0/8). Never deploy them.
"""
import base64
import importlib.util
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent


def dev_auth_key() -> bytes:
    spec = importlib.util.spec_from_file_location("generate_events", ROOT / "scripts" / "generate-events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEV_AUTH_KEY


def wait_until_up(endpoint: str, limit: float = 30) -> None:
    """The emulator may have been started a moment ago (`moto_server … &` on the line before)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                sys.exit(f"nothing answers at {endpoint} ({error}): is the emulator running?")
            time.sleep(0.2)


def create(endpoint: str) -> dict:
    """The table (as template.yaml declares it, with the stream the fan-out reads) and the
    delivery queue with its DLQ."""
    wait_until_up(endpoint)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    dynamodb, sqs = session.client("dynamodb", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)
    name = f"hookline-local-{uuid.uuid4().hex[:8]}"
    indexes = [("GSI1", "KEYS_ONLY"), ("GSI2", "KEYS_ONLY"), ("GSI3", "KEYS_ONLY")]
    keys = ["PK", "SK"] + [f"{index}{part}" for index, _ in indexes for part in ("PK", "SK")]
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        GlobalSecondaryIndexes=[{"IndexName": index, "Projection": {"ProjectionType": projection},
                                 "KeySchema": [{"AttributeName": f"{index}PK", "KeyType": "HASH"},
                                               {"AttributeName": f"{index}SK", "KeyType": "RANGE"}]}
                                for index, projection in indexes])
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "180", "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"30"}}'})["QueueUrl"]
    return {
        "HOOKLINE_TABLE": name, "HOOKLINE_QUEUE_URL": queue, "HOOKLINE_DLQ_URL": dlq, "HOOKLINE_AWS_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
        "HOOKLINE_SECRET_KEY": base64.b64encode(bytes(range(32))).decode(),
        "HOOKLINE_AUTH_KEY": base64.b64encode(dev_auth_key()).decode(),
        "HOOKLINE_ALLOW_HTTP": "true", "HOOKLINE_ALLOW_NET": "127.0.0.0/8",
    }


if __name__ == "__main__":
    for key, value in create(sys.argv[1]).items():
        print(f'{key}="{value}"')
