#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/seed-*) from shapes Hookline
really receives: every events/ file (API Gateway, SQS, SNS, EventBridge, as captured and as
`sam local generate-event` makes them), the catalog's examples and schemas, and the published
test vectors' secrets. Credentials are taken out (the targets add their own). Entries the
fuzzers found are kept beside the seeds; run this again after changing events/ or the catalog."""

import base64
import hashlib
import hmac
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
CREDENTIALS = {"authorization", "x-api-key"}
# The API target builds its request in memory; a stale length would only confuse mutations.
DROPPED = CREDENTIALS | {"content-length"}
# The signature target's fixed clock (fuzz/src/targets/signature.rs).
NOW = 1_780_000_000


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def without_credentials(event):
    headers = event.get("headers")
    if isinstance(headers, dict):
        event["headers"] = {k: v for k, v in headers.items() if k.lower() not in CREDENTIALS}
    for key in ("multiValueHeaders",):
        if isinstance(event.get(key), dict):
            event[key] = {k: v for k, v in event[key].items() if k.lower() not in CREDENTIALS}
    return event


def raw_request(event):
    """An API Gateway v2 event as the API target's raw request, or None."""
    http = event.get("requestContext", {}).get("http")
    if not http:
        return None
    path = event.get("rawPath") or http.get("path") or "/"
    stage = event["requestContext"].get("stage", "$default")
    if stage not in ("$default", "") and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1:]
    query = event.get("rawQueryString") or ""
    head = [f"{http['method']} {path}{'?' + query if query else ''}"]
    head += [f"{k}: {v}" for k, v in event.get("headers", {}).items() if k.lower() not in DROPPED]
    body = event.get("body") or ""
    body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return "\n".join(head).encode() + b"\n\n" + body


def events_files():
    for file in sorted((ROOT / "events").rglob("*.json")):
        name = str(file.relative_to(ROOT / "events")).replace("/", "-")[: -len(".json")]
        yield name, without_credentials(json.loads(file.read_text()))


def lambda_and_api():
    for name, event in events_files():
        write("lambda", name, json.dumps(event, separators=(",", ":")))
        request = raw_request(event)
        if request is not None:
            write("api", name, request)
    json_head = "content-type: application/json"
    extra = {
        "webhook-filtered": ("POST /api/v1/webhooks", {
            "name": "NOC", "url": "https://noc.example.com/hooks", "events": ["network.*"],
            "filter": 'data.site_id == "site-12" && data.severity in ["major", "critical"]',
            "transform": '{"site": data.site_id, "kind": event_type, "at": metadata.timestamp}',
            "signature": {"profile": "stripe", "header_prefix": "Hookline"},
            "retry_policy": {"max_attempts": 5, "schedule_secs": [1, 5, 30]}, "secret": "your-secret-key"}),
        "filter-test": ("POST /api/v1/webhooks/filter/test", {
            "filter": "data.amount > 500.0", "event_types": ["invoice.paid"], "limit": 5, "transform": "{'amount': data.amount}"}),
        "batch": ("POST /api/v1/events/batch", {"events": [
            {"event_type": "invoice.paid", "data": {"invoice_id": "inv_1", "customer_id": 1, "amount": 12.5, "currency": "USD"}},
            {"event_type": "network.device.down", "data": {"device_id": "olt-7", "site_id": "site-12"}, "id": "evt_fixed"}]}),
        "replay": ("POST /api/v1/replays", {"event_types": ["customer.*"], "since": "2026-01-01T00:00:00Z", "until": "2026-12-31T00:00:00Z"}),
    }
    for name, (line, body) in extra.items():
        write("api", name, f"{line}\n{json_head}\n\n{json.dumps(body)}")
    write("api", "deliveries-cursor", "GET /api/v1/deliveries?limit=2&status=failed&event_type=invoice.paid&since=2026-01-01T00:00:00Z&cursor=c2VxOjE\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n\n")
    catalog = json.loads((ROOT / "shared" / "src" / "domain" / "catalog.json").read_text())
    for info in catalog["event_types"]:
        body = {"event_type": info["event_type"], "data": info["example"], "metadata": {"source": "crm"}}
        write("api", f"publish-{info['event_type']}", f"POST /api/v1/events\n{json_head}\nidempotency-key: k1\n\n{json.dumps(body)}")


def expressions():
    sources = [
        'data.site_id == "site-12" && data.severity in ["major", "critical"]',
        "data.amount > 500.0",
        'event_type.startsWith("customer.") && has(data.email)',
        "size(data.items) > 2 && data.items.exists(x, x.sku == 'fiber-1g')",
        'data.email.matches("^[a-z]+@example[.]com$")',
        '{"site": data.site_id, "kind": event_type, "tags": [1, 2.5, true, null]}',
        "data.items.map(x, x.price * 2)",
        "metadata.source == 'crm' ? data : {'skipped': true}",
    ]
    envelope = {"id": "evt_1", "event_type": "network.device.down", "timestamp": "2026-12-04T10:00:00Z",
                "data": {"site_id": "site-12", "severity": "major", "amount": 750.25, "email": "noc@example.com",
                         "items": [{"sku": "fiber-1g", "price": 10}, {"sku": "router", "price": 99.5}]},
                "metadata": {"source": "crm"}}
    for n, source in enumerate(sources):
        write("expression", str(n), f"{source}\n{json.dumps(envelope)}")


def signatures():
    vectors = json.loads((ROOT / "docs" / "vectors.json").read_text())["vectors"]
    for n, vector in enumerate(vectors):
        secret = vector["secret"]
        key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
        msg_id = vector["headers"].get("webhook-id", "msg_1")
        body = vector["body"].encode()
        mac = base64.b64encode(hmac.new(key, f"{msg_id}.{NOW}.".encode() + body, hashlib.sha256).digest()).decode()
        write("signature", str(n), f"{secret}\n{msg_id}\n{NOW}\nv1,{mac}\n".encode() + body)
        write("signature", f"{n}-rotation", f"{secret}\n{msg_id}\n{NOW}\nv1,bm90IGl0 v1,{mac}\n".encode() + body)


def cursors():
    write("cursor", "deliveries", "deliveries\nPK=WH#wh_1&SK=DLV#2026-12-04T10:00:00Z#dlv_1&day=2026-12-04")
    write("cursor", "opaque", "events\neyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0")


def schemas():
    catalog = json.loads((ROOT / "shared" / "src" / "domain" / "catalog.json").read_text())
    for info in catalog["event_types"][:8]:
        write("schema", info["event_type"], f"{json.dumps(info['schema'])}\n{json.dumps(info['example'])}")


if __name__ == "__main__":
    for old in CORPUS.glob("*/seed-*"):
        old.unlink()
    lambda_and_api()
    expressions()
    signatures()
    cursors()
    schemas()
    print(*(f"{folder.name}: {len(list(folder.iterdir()))}" for folder in sorted(CORPUS.iterdir())), sep="\n")
