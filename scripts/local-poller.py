#!/usr/bin/env python3
"""The triggers AWS runs, for local runs: the table's stream for the fan-out (`ingest`) and
the delivery queue for `deliver`, which `cargo lambda watch` does not emulate.

The stream: every record written since the last poll that template.yaml's filters let through
(an inserted `EVT#` item; an inserted or modified `DLV#` item, whose attempts are counted), up
to 100 at once, handed to `ingest` as Lambda's DynamoDB stream event; the position moves on only when the invocation succeeds, so a failed fan-out is handed
over again, as Lambda retries it.

The queue: it receives up to --batch-size messages (template.yaml's BatchSize, 10) from the delivery
queue, invokes `deliver` with them through cargo-lambda's runtime API, and then, as Lambda does
with ReportBatchItemFailures, deletes every message not reported as failed. A failed
invocation, or a response naming a message that was not in the batch, leaves the whole batch
to reappear after its visibility timeout. Reported failures stay in the queue with the
visibility `deliver` set (the retry's backoff).

Usage: local-poller.py --env-file .env.local [-A 127.0.0.1] [-P 9100] [--until-idle]
"""
import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request

import boto3


def read_env_file(path: str) -> dict:
    """KEY="value" lines, as local-aws.py writes them."""
    settings = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip().strip('"')
    return settings


def aws_client(service: str, settings: dict):
    return boto3.client(service, endpoint_url=settings.get("HOOKLINE_AWS_ENDPOINT"),
                        region_name=settings.get("AWS_REGION", "us-east-1"),
                        aws_access_key_id=settings.get("AWS_ACCESS_KEY_ID", "test"),
                        aws_secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY", "test"))


class StreamTrigger:
    """The table's stream, read past where the last successful invocation stopped."""

    BATCH_SIZE = 100

    def __init__(self, settings: dict, url: str):
        table = aws_client("dynamodb", settings).describe_table(TableName=settings["HOOKLINE_TABLE"])["Table"]
        self.streams, self.arn, self.url = aws_client("dynamodbstreams", settings), table["LatestStreamArn"], url
        self.read_up_to = {}

    def records(self, shard: str) -> list:
        start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.read_up_to[shard]} \
            if shard in self.read_up_to else {"ShardIteratorType": "TRIM_HORIZON"}
        iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard, **start)["ShardIterator"]
        records = []
        while iterator:
            page = self.streams.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            records += page["Records"]
            iterator = page.get("NextShardIterator")
        return records

    def lambda_record(self, record: dict) -> dict:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {"eventID": record["eventID"], "eventName": record["eventName"], "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": record.get("awsRegion", "us-east-1"),
                "dynamodb": change, "eventSourceARN": self.arn}

    def poll_once(self) -> int:
        """Hands what the filter lets through to `ingest`; returns how many records it handed over."""
        handed = 0
        for shard in [s["ShardId"] for s in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]]:
            records = self.records(shard)
            for at in range(0, len(records), self.BATCH_SIZE):
                batch = records[at:at + self.BATCH_SIZE]
                passed = [self.lambda_record(r) for r in batch if passes_filters(r)]
                if passed:
                    answer = invoke(self.url, {"Records": passed}, "ingest")
                    if answer is None:
                        return handed
                    print(f"local-poller: ingest fanned out {answer.get('events')} event(s) into "
                          f"{answer.get('deliveries')} deliveries and counted {answer.get('attempts')} attempt(s)", flush=True)
                    handed += len(passed)
                self.read_up_to[shard] = batch[-1]["dynamodb"]["SequenceNumber"]
        return handed


def passes_filters(record: dict) -> bool:
    """What template.yaml's two stream mappings let through: inserted `EVT#` items (the fan-out)
    and inserted or modified `DLV#` items (attempts, counted into the metrics)."""
    key = record["dynamodb"]["Keys"]["PK"].get("S", "")
    return (record["eventName"] == "INSERT" and key.startswith("EVT#")) or \
        (record["eventName"] in ("INSERT", "MODIFY") and key.startswith("DLV#"))


def message_attribute(value: dict) -> dict:
    return {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
            "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def lambda_record(message: dict, queue_arn: str, region: str) -> dict:
    """One record of the SQS event Lambda hands to a function."""
    body = message.get("Body", "")
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {k: message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region}


def invoke(url: str, event: dict, function: str):
    """The function's answer, or None when the invocation failed (a function error)."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        # The first invocation compiles the function, which can take minutes.
        with urllib.request.urlopen(request, timeout=900) as response:
            answer = json.loads(response.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"local-poller: invoking {function} failed ({error}); the batch will be handed over again", file=sys.stderr, flush=True)
        return None
    if isinstance(answer, dict) and "errorType" in answer:
        print(f"local-poller: {function} failed: {answer.get('errorType')}: {answer.get('errorMessage')}", file=sys.stderr, flush=True)
        return None
    return answer or {}


def finished_messages(messages: list, answer) -> list:
    """The messages Lambda would delete after this answer (ReportBatchItemFailures)."""
    if answer is None:
        return []
    ids = {m["MessageId"] for m in messages}
    failed = [f.get("itemIdentifier") for f in (answer.get("batchItemFailures") or [])]
    if any(not item or item not in ids for item in failed):
        return []  # an answer naming no message of the batch fails the whole batch
    return [m for m in messages if m["MessageId"] not in failed]


def poll_once(sqs, queue_url: str, queue_arn: str, region: str, url: str, batch_size: int, wait: int) -> int:
    """One receive, invoke and delete; returns how many messages were received."""
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=wait,
                                   AttributeNames=["All"], MessageAttributeNames=["All"])
    messages = received.get("Messages", [])
    if not messages:
        return 0
    answer = invoke(url, {"Records": [lambda_record(m, queue_arn, region) for m in messages]}, "deliver")
    finished = finished_messages(messages, answer)
    if finished:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(finished)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    print(f"local-poller: deliver took {len(messages)} message(s): {len(finished)} finished, "
          f"{len(messages) - len(finished)} left for a retry", flush=True)
    return len(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", required=True, help="the settings local-aws.py wrote")
    parser.add_argument("-A", "--invoke-address", default="127.0.0.1", help="cargo lambda watch's address")
    parser.add_argument("-P", "--invoke-port", type=int, default=9100, help="cargo lambda watch's port")
    parser.add_argument("--batch-size", type=int, default=10, choices=range(1, 11), metavar="1-10")
    parser.add_argument("--until-idle", action="store_true", help="stop after a receive that finds nothing")
    args = parser.parse_args()
    settings = read_env_file(args.env_file)
    sqs, queue_url = aws_client("sqs", settings), settings["HOOKLINE_QUEUE_URL"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function_url = f"http://{args.invoke_address}:{args.invoke_port}/2015-03-31/functions/{{}}/invocations"
    stream = StreamTrigger(settings, function_url.format("ingest"))
    region = settings.get("AWS_REGION", "us-east-1")
    print(f"local-poller: the table's stream -> ingest, {queue_url} -> deliver (batches of {args.batch_size})", flush=True)
    try:
        while True:
            fanned = stream.poll_once()
            got = poll_once(sqs, queue_url, queue_arn, region, function_url.format("deliver"), args.batch_size, wait=0 if fanned else 1)
            if not (fanned or got) and args.until_idle:
                return
            if not (fanned or got):
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
