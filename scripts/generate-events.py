#!/usr/bin/env python3
"""Writes the sample invocation payloads in events/.

The shapes are those `sam local generate-event` prints (apigateway http-api-proxy, sqs
receive-message, sns notification, cloudwatch scheduled-event for EventBridge and for the
maintain function's schedule), filled with
Hookline's routes and the catalog's example data. Ids such as `wh_sample` stand for ones a
real run creates; the tests replace them. The management token is signed with the local
development key below (README: running the functions locally) and never expires; that key
must never be deployed.

events/prod-stage/ holds the HTTP requests as API Gateway sends them on a named stage.
events/sam-cli/ holds the same requests as `sam local generate-event apigateway http-api-proxy
--stage prod` itself prints them (its headers, cookies, authorizer, client certificate and
stage variables, the stage absent from the path as behind a custom domain), with only the
method, path, body, query and credentials set: shapes this project did not write. They are
rewritten only where the `sam` command is on PATH (the committed ones came from aws-sam-cli
1.170.0); elsewhere they are left as they are.
"""
import base64
import hashlib
import hmac
import os
import json
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
DEV_AUTH_KEY = b"hookline local development key -- never deploy it"
SAMPLE_API_KEY = "hk_0000000000000000_sample-key-replaced-by-tests"
CATALOG = {entry["event_type"]: entry for entry in json.loads((ROOT / "shared/src/domain/catalog.json").read_text())["event_types"]}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def dev_token() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iss": "hookline", "aud": "hookline", "sub": "sample-admin", "iat": 1767225600, "nbf": 1767225600,
              "exp": 4102444800, "roles": ["webhooks:admin"]}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(DEV_AUTH_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def http_event(method, route, path, body=None, query="", headers=None):
    path_parameters = {}
    for template_part, part in zip(route.split("/"), path.split("/")):
        if template_part.startswith("{"):
            path_parameters[template_part.strip("{}")] = part
    all_headers = {"accept": "application/json", "content-length": str(len(json.dumps(body)) if body is not None else 0),
                   "host": "abc123.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8.5.0",
                   "x-forwarded-for": "203.0.113.7", "x-forwarded-port": "443", "x-forwarded-proto": "https"}
    if body is not None:
        all_headers["content-type"] = "application/json"
    all_headers.update(headers if headers is not None else {"authorization": f"Bearer {dev_token()}"})
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": f"{method} {route}", "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000", "timeEpoch": 1773342238390,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def publish_request(event_type, event_id):
    return {"id": event_id, "event_type": event_type, "data": CATALOG[event_type]["example"],
            "metadata": {"source": "billing-service"}}


WEBHOOK = {"name": "CRM sync", "url": "https://crm.example.com/hooks/hookline", "events": ["customer.*", "invoice.paid"],
           "description": "Customer and payment events for the CRM"}

API = {
    "api-health": ("GET", "/health", "/health", None, ""),
    "api-dashboard": ("GET", "/", "/", None, ""),
    "api-dashboard-asset": ("GET", "/ui/{file}", "/ui/api.js", None, ""),
    "api-openapi": ("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", None, ""),
    "api-list-event-types": ("GET", "/api/v1/webhooks/events", "/api/v1/webhooks/events", None, ""),
    "api-get-event-type": ("GET", "/api/v1/webhooks/events/{event_type}", "/api/v1/webhooks/events/customer.created", None, ""),
    "api-create-webhook": ("POST", "/api/v1/webhooks", "/api/v1/webhooks", WEBHOOK, ""),
    "api-list-webhooks": ("GET", "/api/v1/webhooks", "/api/v1/webhooks", None, "limit=20&is_active=true"),
    "api-get-webhook": ("GET", "/api/v1/webhooks/{id}", "/api/v1/webhooks/wh_sample", None, ""),
    "api-update-webhook": ("PUT", "/api/v1/webhooks/{id}", "/api/v1/webhooks/wh_sample",
                           {**WEBHOOK, "events": ["customer.*", "invoice.*"], "is_active": True}, ""),
    "api-test-webhook": ("POST", "/api/v1/webhooks/{id}/test", "/api/v1/webhooks/wh_sample/test", None, ""),
    "api-test-filter": ("POST", "/api/v1/webhooks/filter/test", "/api/v1/webhooks/filter/test",
                        {"filter": "data.amount > 40.0", "event_types": ["invoice.*"], "limit": 20}, ""),
    "api-get-secret": ("GET", "/api/v1/webhooks/{id}/secret", "/api/v1/webhooks/wh_sample/secret", None, ""),
    "api-rotate-secret": ("POST", "/api/v1/webhooks/{id}/secret/rotate", "/api/v1/webhooks/wh_sample/secret/rotate",
                          {"grace_period_secs": 3600}, ""),
    "api-list-webhook-deliveries": ("GET", "/api/v1/webhooks/{id}/deliveries", "/api/v1/webhooks/wh_sample/deliveries", None, "limit=50"),
    "api-replay-dead": ("POST", "/api/v1/webhooks/{id}/replay", "/api/v1/webhooks/wh_sample/replay", None, ""),
    "api-enable-webhook": ("POST", "/api/v1/webhooks/{id}/enable", "/api/v1/webhooks/wh_sample/enable",
                           {"release_held": True}, ""),
    "api-list-deliveries": ("GET", "/api/v1/webhooks/deliveries", "/api/v1/webhooks/deliveries", None, "status=succeeded&limit=50"),
    "api-get-delivery": ("GET", "/api/v1/webhooks/deliveries/{delivery_id}", "/api/v1/webhooks/deliveries/dlv_sample", None, ""),
    "api-replay-delivery": ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/replay",
                            "/api/v1/webhooks/deliveries/dlv_sample/replay", None, ""),
    "api-acknowledge-delivery": ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/acknowledge",
                                 "/api/v1/webhooks/deliveries/dlv_sample/acknowledge", None, ""),
    "api-bulk-replay": ("POST", "/api/v1/webhooks/deliveries/replay", "/api/v1/webhooks/deliveries/replay",
                        {"webhook_id": "wh_sample", "status": ["dead", "cancelled"], "since": "2026-01-01T00:00:00Z"}, ""),
    "api-get-replay": ("GET", "/api/v1/webhooks/replays/{id}", "/api/v1/webhooks/replays/rpl_sample", None, ""),
    "api-metrics": ("GET", "/api/v1/webhooks/metrics", "/api/v1/webhooks/metrics", None, ""),
    "api-create-api-key": ("POST", "/api/v1/api-keys", "/api/v1/api-keys", {"name": "billing-service", "events": ["invoice.*"]}, ""),
    "api-list-api-keys": ("GET", "/api/v1/api-keys", "/api/v1/api-keys", None, ""),
    "api-revoke-api-key": ("DELETE", "/api/v1/api-keys/{id}", "/api/v1/api-keys/key_sample", None, ""),
    "api-audit": ("GET", "/api/v1/audit", "/api/v1/audit", None, "limit=20"),
    "api-erase-event": ("DELETE", "/api/v1/events/{id}", "/api/v1/events/evt_sample", None, ""),
    "api-delete-webhook": ("DELETE", "/api/v1/webhooks/{id}", "/api/v1/webhooks/wh_sample", None, ""),
}


def sqs_record(message_id, body, queue):
    return {"messageId": message_id, "receiptHandle": f"receipt-{message_id}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1773342238000", "SenderId": "123456789012",
                           "ApproximateFirstReceiveTimestamp": "1773342238001"},
            "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(), "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}", "awsRegion": "us-east-1"}


def write(name, event):
    (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


NAMED_STAGE = "prod"


def on_named_stage(event):
    """The same request on the named stage template.yaml deploys: API Gateway puts the stage in
    `rawPath` and `requestContext.http.path`, and hands bodies over base64-encoded as its own
    samples (`sam local generate-event apigateway http-api-proxy`) show."""
    staged = json.loads(json.dumps(event))
    staged["rawPath"] = f"/{NAMED_STAGE}{event['rawPath']}"
    staged["requestContext"]["http"]["path"] = staged["rawPath"]
    staged["requestContext"]["stage"] = NAMED_STAGE
    if "body" in event:
        staged["body"] = base64.b64encode(event["body"].encode()).decode()
        staged["isBase64Encoded"] = True
    return staged


def from_sam_cli(event):
    """The request as `sam local generate-event` builds it, or None without the sam command."""
    sam = shutil.which("sam")
    if sam is None:
        return None
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    command = [sam, "local", "generate-event", "apigateway", "http-api-proxy", "--stage", NAMED_STAGE,
               "--method", method, "--path", path.lstrip("/"), "--body", event.get("body", "")]
    generated = json.loads(subprocess.run(command, capture_output=True, text=True, check=True,
                                          env={**os.environ, "SAM_CLI_TELEMETRY": "0"}).stdout)
    credentials = {k: v for k, v in event["headers"].items() if k in ("authorization", "x-api-key", "content-type")}
    generated["headers"].update(credentials)
    generated["rawQueryString"] = event["rawQueryString"]
    for key in ("queryStringParameters", "pathParameters"):
        generated.pop(key, None)
        if key in event:
            generated[key] = event[key]
    if "body" not in event:
        generated.pop("body", None)
        generated["isBase64Encoded"] = False
    return generated


def write_http(name, event):
    """An HTTP request on the `$default` stage (events/), on a named one (events/prod-stage/),
    and as the SAM CLI generates it (events/sam-cli/)."""
    write(name, event)
    (EVENTS / f"{NAMED_STAGE}-stage").mkdir(exist_ok=True)
    write(f"{NAMED_STAGE}-stage/{name}", on_named_stage(event))
    generated = from_sam_cli(event)
    if generated is not None:
        (EVENTS / "sam-cli").mkdir(exist_ok=True)
        write(f"sam-cli/{name}", generated)


def main():
    EVENTS.mkdir(exist_ok=True)
    for name, (method, route, path, body, query) in API.items():
        write_http(name, http_event(method, route, path, body, query))
    key_header = {"x-api-key": SAMPLE_API_KEY}
    write_http("ingest-http-publish", http_event("POST", "/api/v1/events", "/api/v1/events",
                                            publish_request("invoice.paid", "evt_sample_http_1"), headers=key_header))
    write_http("ingest-http-batch", http_event("POST", "/api/v1/events/batch", "/api/v1/events/batch",
                                          {"events": [publish_request("invoice.paid", "evt_sample_batch_1"),
                                                      publish_request("invoice.created", "evt_sample_batch_2")]},
                                          headers=key_header))
    write("ingest-eventbridge", {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "customer.created",
        "source": "isp.crm", "account": "123456789012", "time": "2026-03-12T19:03:58Z", "region": "us-east-1",
        "resources": [], "detail": CATALOG["customer.created"]["example"]})
    write("ingest-sns", {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:isp-network-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:isp-network-events", "Subject": None,
                "Message": json.dumps({"event_type": "network.device.down", "data": CATALOG["network.device.down"]["example"]}),
                "Timestamp": "2026-03-12T19:03:58.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
                "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE", "MessageAttributes": {}}}]})
    write("ingest-sqs", {"Records": [
        sqs_record("0f1c2b7e-6f0a-4e57-9d44-5d0c1f3c1a01", json.dumps(publish_request("ticket.assigned", "evt_sample_sqs_1")),
                   "hookline-inbound"),
        sqs_record("0f1c2b7e-6f0a-4e57-9d44-5d0c1f3c1a02", json.dumps({"event_type": "ticket.exploded", "data": {}}),
                   "hookline-inbound"),
    ]})
    write("maintain-schedule", {
        "version": "0", "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-03-12T19:04:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/hookline-prod-maintain"], "detail": {}})
    # A task as the fan-out queues it: carrying its delivery, which is stored with its first attempt.
    task = {"delivery_id": "dlv_sample", "webhook_id": "wh_sample", "event_id": "evt_sample",
            "carried": {"event_type": "customer.created", "created_at": "2026-03-12T19:04:00.000Z"}}
    write("deliver-batch", {"Records": [
        sqs_record("5a1d3c55-2f0e-4a8e-8d6c-0b9a6f7e2b01", json.dumps(task), "hookline-deliveries"),
        sqs_record("5a1d3c55-2f0e-4a8e-8d6c-0b9a6f7e2b02", "not a delivery task", "hookline-deliveries"),
    ]})


if __name__ == "__main__":
    main()
