"""The client against a running `hookline serve` (HOOKLINE_URL, HOOKLINE_TOKEN: an admin token,
HOOKLINE_READ_TOKEN: a read-only one, HOOKLINE_API_KEY), with a real receiver on loopback.
Hookline's test suite starts the server and runs these (tests/integration/python_client.rs)."""

import dataclasses
import http.server
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.request

from hookline import (EVENT_TYPES, ROUTES, AuthenticationError, ConflictError, Hookline, HooklineConnectionError,
                      NotFoundError, PermissionDeniedError, Triggers, ValidationError, WebhookVerificationError, verify)

URL = os.environ["HOOKLINE_URL"]


class Receiver:
    """Records every request; answers 500 on paths that start with /fail, 204 otherwise."""

    def __init__(self):
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if self.path.startswith("/fail") else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path):
        return [(headers, body) for (got, headers, body) in self.requests if got == path]


class LosesFirstAnswer:
    """A front for Hookline that forwards every request but drops the connection instead of
    answering the first one: the publisher never learns that its event was accepted."""

    def __init__(self):
        self.forwarded = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(URL + self.path, data=body, headers=headers, method="POST")
                try:
                    answer = urllib.request.urlopen(request)
                    status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                owner.forwarded += 1
                if owner.forwarded == 1:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclasses.dataclass
class Customer:
    """What the ISP platform's CustomerService has at hand."""
    id: int
    portal_id: str
    full_name: str
    email: str


def eventually(what, check, limit=20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.hooks = Hookline(URL, api_key=os.environ["HOOKLINE_API_KEY"], token=os.environ["HOOKLINE_TOKEN"], backoff=0.05)

    def webhook(self, path, events, **fields):
        return self.hooks.create_webhook(f"client test {path}", self.receiver.url + path, events, **fields)

    def test_every_route_it_calls_is_in_the_servers_openapi_document(self):
        with urllib.request.urlopen(URL + "/api/v1/openapi.json") as answer:
            paths = json.load(answer)["paths"]
        for name, (method, path) in ROUTES.items():
            self.assertIn(path, paths, name)
            self.assertIn(method.lower(), paths[path], name)

    def test_a_trigger_publishes_a_signed_event_that_verifies(self):
        webhook = self.webhook("/crm", ["customer.created"])
        triggers = Triggers(self.hooks, source="customer_service", triggered_by="admin_user")
        published = triggers.customer_created(Customer(123, "100123", "John Doe", "john@example.com"))
        self.assertEqual(published["deliveries"], 1)
        headers, body = eventually("the delivery", lambda: self.receiver.on("/crm"))[0]
        event = verify(webhook["secret"], body, headers)
        self.assertEqual(event["id"], published["id"])
        self.assertEqual(event["data"]["full_name"], "John Doe")
        self.assertEqual(event["metadata"], {"source": "customer_service", "triggered_by": "admin_user"})
        with self.assertRaises(WebhookVerificationError):
            verify(webhook["secret"], body.replace(b"John", b"Jane"), headers)
        delivery = eventually("the delivery's record", lambda: [d for d in self.hooks.list_deliveries(
            webhook_id=webhook["id"], status="succeeded")["data"]])[0]
        self.assertEqual(self.hooks.get_delivery(delivery["id"])["attempts_log"][0]["status_code"], 204)

    def test_publishing_the_same_id_again_is_a_duplicate_and_other_data_a_conflict(self):
        first = self.hooks.publish("auth.login", {"user_id": "u1"}, id="evt_client_same")
        again = self.hooks.publish("auth.login", {"user_id": "u1"}, id="evt_client_same")
        self.assertEqual((first["duplicate"], again["duplicate"]), (False, True))
        with self.assertRaises(ConflictError) as refused:
            self.hooks.publish("auth.login", {"user_id": "someone else"}, id="evt_client_same")
        self.assertEqual(refused.exception.status, 409)

    def test_a_publish_whose_answer_is_lost_is_retried_and_recognised_as_the_same_event(self):
        front = LosesFirstAnswer()
        hooks = Hookline(front.url, api_key=os.environ["HOOKLINE_API_KEY"], backoff=0.05)
        published = hooks.publish("auth.logout", {"user_id": "u2"})
        self.assertEqual(front.forwarded, 2)
        self.assertTrue(published["duplicate"], "the first request was accepted; the retry must not publish again")

    def test_a_batch_accepts_and_refuses_each_event_on_its_own(self):
        answer = self.hooks.publish_batch([
            {"event_type": "auth.login", "data": {"user_id": "b1"}},
            {"event_type": "auth.failed", "data": {"username": "b2", "reason": "bad password"}},
            {"event_type": "no.such.type", "data": {}},
        ])
        self.assertEqual((answer["accepted"], answer["refused"]), (2, 1))

    def test_refusals_are_typed_and_carry_code_and_detail(self):
        with self.assertRaises(ValidationError) as invalid:
            self.hooks.publish("customer.created", {"id": 1})
        self.assertEqual(invalid.exception.code, "validation_failed")
        self.assertIn("full_name", invalid.exception.detail)
        with self.assertRaises(NotFoundError):
            self.hooks.get_webhook("wh_none")
        with self.assertRaises(AuthenticationError):
            Hookline(URL, token="not-a-token").list_webhooks()
        with self.assertRaises(PermissionDeniedError):
            Hookline(URL, token=os.environ["HOOKLINE_READ_TOKEN"]).create_webhook("x", self.receiver.url, ["*"])
        with self.assertRaises(HooklineConnectionError):
            Hookline("http://127.0.0.1:9", token="t", max_retries=1, backoff=0.01).list_webhooks()

    def test_update_changes_what_it_names_and_keeps_the_rest(self):
        webhook = self.webhook("/keep", ["ticket.*"], description="NOC", retry_policy={"schedule_secs": [5, 60]},
                               headers={"x-tenant": "isp-1"}, signature="stripe", filter='data.priority == "urgent"',
                               transform='{"ticket": data.ticket_id}')
        updated = self.hooks.update_webhook(webhook["id"], name="renamed")
        self.assertEqual(updated["name"], "renamed")
        for field in ("description", "retry_policy", "headers", "events", "url", "signature", "filter", "transform"):
            self.assertEqual(updated[field], webhook[field], field)

    def test_a_filter_is_tried_before_it_is_saved(self):
        report = self.hooks.test_filter('data.priority == "urgent"', transform='{"ticket": data.ticket_id}',
                                        event_types=["ticket.created"], limit=5)
        self.assertIn(report["source"], ("recent", "catalog"))
        self.assertGreaterEqual(report["evaluated"], max(1, report["matched"] + report["failed"]))
        for example in report["examples"]:
            self.assertEqual(example["sent"], {"ticket": example["event"]["data"]["ticket_id"]})
        with self.assertRaises(ValidationError) as refused:
            self.hooks.test_filter("data.priority ==")
        self.assertEqual(refused.exception.field, "filter")

    def test_dead_deliveries_replay_one_by_one_and_in_bulk(self):
        webhook = self.webhook("/fail", ["ticket.created"], retry_policy={"schedule_secs": [0.1]})
        ticket = {"ticket_id": "T-1", "subject": "No link", "priority": "high"}
        self.hooks.publish("ticket.created", ticket)
        dead = eventually("the delivery to die", lambda: self.hooks.list_deliveries(
            webhook_id=webhook["id"], status="dead")["data"])[0]
        self.assertEqual(len(self.hooks.get_delivery(dead["id"])["attempts_log"]), 2)
        self.hooks.replay_delivery(dead["id"])
        eventually("two more attempts", lambda: len(self.receiver.on("/fail")) >= 4)
        eventually("it to die again", lambda: self.hooks.get_delivery(dead["id"])["status"] == "dead")
        bulk = self.hooks.replay(webhook_id=webhook["id"])
        self.assertEqual(bulk["matched"], 1)
        self.assertEqual(self.hooks.get_replay(bulk["id"])["id"], bulk["id"])

    def test_iterating_follows_cursors_through_every_page(self):
        webhook = self.webhook("/pages", ["network.device.*"])
        for n in range(3):
            self.hooks.publish("network.device.up", {"device_id": f"d{n}", "site_id": "s1"})
        listed = eventually("three deliveries", lambda: len(self.hooks.list_deliveries(webhook_id=webhook["id"])["data"]) == 3)
        self.assertTrue(listed)
        every = list(self.hooks.iter_deliveries(webhook_id=webhook["id"], limit=1))
        self.assertEqual(len({delivery["id"] for delivery in every}), 3)
        self.assertIn(webhook["id"], {hook["id"] for hook in self.hooks.iter_webhooks(limit=1)})

    def test_the_triggers_cover_exactly_the_servers_catalog(self):
        served = [t["event_type"] for t in self.hooks.event_types() if not t["event_type"].startswith("hookline.")]
        self.assertEqual(list(EVENT_TYPES), served)
        for event_type in EVENT_TYPES:
            self.assertTrue(callable(getattr(Triggers, event_type.replace(".", "_"))), event_type)
        self.assertEqual(self.hooks.event_type("invoice.paid")["category"], "billing")

    def test_a_trigger_can_log_instead_of_failing_the_business_operation(self):
        quiet = Triggers(Hookline(URL, api_key="wrong"), source="billing_service", raise_errors=False)
        with self.assertLogs("hookline", "ERROR"):
            self.assertIsNone(quiet.invoice_paid({"invoice_id": "I-1"}))

    def test_metrics_report_totals(self):
        self.assertIn("totals", self.hooks.metrics(bucket="1h"))


if __name__ == "__main__":
    unittest.main()
