#!/usr/bin/env python3
"""A webhook receiver for local runs: verifies each request with the official Standard Webhooks
library and the webhook's secret, prints one line per request, and answers 204 to a genuine
request and 401 to any other.

Usage: local-receiver.py --secret whsec_... [--port 9200]
"""
import argparse
import http.server
import json

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def handler_for(verifier: Webhook):
    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = verifier.verify(body, headers)
            except WebhookVerificationError as refused:
                print(f"refused {headers.get('webhook-id')}: {refused}", flush=True)
                self.send_response(401)
            else:
                attempt = headers.get("x-hookline-attempt")
                print(f"verified {event['event_type']} {event['id']} (webhook-id {headers['webhook-id']}, attempt {attempt}): "
                      f"{json.dumps(event['data'])}", flush=True)
                self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass  # one line per request is printed above

    return Receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", required=True, help="the webhook's signing secret (whsec_...)")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = http.server.HTTPServer((args.host, args.port), handler_for(Webhook(args.secret)))
    print(f"local-receiver: listening on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
