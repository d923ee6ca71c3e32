"""`Hookline`: publish events (with an API key) and manage webhooks, deliveries and replays (with
a bearer token) over Hookline's HTTP API. Every route it calls is listed in `ROUTES`, which the
test suite checks against the server's OpenAPI document."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any, Dict, Iterator, List, Optional, Sequence

from .transport import Transport

# name → (method, path): every route this client calls.
ROUTES = {
    "publish": ("POST", "/api/v1/events"),
    "publish_batch": ("POST", "/api/v1/events/batch"),
    "create_webhook": ("POST", "/api/v1/webhooks"),
    "list_webhooks": ("GET", "/api/v1/webhooks"),
    "get_webhook": ("GET", "/api/v1/webhooks/{id}"),
    "replace_webhook": ("PUT", "/api/v1/webhooks/{id}"),
    "delete_webhook": ("DELETE", "/api/v1/webhooks/{id}"),
    "enable_webhook": ("POST", "/api/v1/webhooks/{id}/enable"),
    "test_webhook": ("POST", "/api/v1/webhooks/{id}/test"),
    "test_filter": ("POST", "/api/v1/webhooks/filter/test"),
    "get_secret": ("GET", "/api/v1/webhooks/{id}/secret"),
    "rotate_secret": ("POST", "/api/v1/webhooks/{id}/secret/rotate"),
    "list_webhook_deliveries": ("GET", "/api/v1/webhooks/{id}/deliveries"),
    "list_deliveries": ("GET", "/api/v1/webhooks/deliveries"),
    "get_delivery": ("GET", "/api/v1/webhooks/deliveries/{delivery_id}"),
    "replay_delivery": ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/replay"),
    "acknowledge_delivery": ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/acknowledge"),
    "replay": ("POST", "/api/v1/webhooks/deliveries/replay"),
    "get_replay": ("GET", "/api/v1/webhooks/replays/{id}"),
    "event_types": ("GET", "/api/v1/webhooks/events"),
    "event_type": ("GET", "/api/v1/webhooks/events/{event_type}"),
    "metrics": ("GET", "/api/v1/webhooks/metrics"),
}

# What `PUT /webhooks/{id}` takes, of what `GET` shows.
_WEBHOOK_FIELDS = (
    "name", "url", "events", "is_active", "description", "headers", "retry_policy", "rate_limit_per_sec", "signature", "filter", "transform",
)


class Hookline:
    """A Hookline server: `Hookline("https://hooks.example.net", api_key=..., token=...)`.

    `api_key` publishes; `token` (a bearer JWT) manages. Calls that are safe to repeat (reads,
    replacing, deleting, and publishing, whose event ids make a repeat a duplicate) are retried on
    connection errors, 429 and 5xx, `max_retries` times with exponential backoff and jitter,
    never sooner than the server's `Retry-After`.
    """

    def __init__(self, base_url: str, *, api_key: Optional[str] = None, token: Optional[str] = None,
                 timeout: float = 10.0, max_retries: int = 3, backoff: float = 0.5, max_backoff: float = 8.0) -> None:
        self._publisher = Transport(base_url, {"x-api-key": api_key} if api_key else {}, timeout, max_retries, backoff, max_backoff)
        self._manager = Transport(base_url, {"authorization": f"Bearer {token}"} if token else {}, timeout, max_retries,
                                  backoff, max_backoff)

    # Publishing

    def publish(self, event_type: str, data: Any, *, metadata: Optional[Dict[str, Any]] = None,
                id: Optional[str] = None, timestamp: Optional[str] = None, traceparent: Optional[str] = None) -> Dict[str, Any]:
        """Publishes one event: `{id, event_type, deliveries, duplicate}`. Without `id` one is made
        here, so a retry after a lost answer is recognised as the same event, not sent twice."""
        event = _event(event_type, data, metadata, id, timestamp)
        return self._publish("publish", event, traceparent)

    def publish_batch(self, events: Sequence[Dict[str, Any]], *, traceparent: Optional[str] = None) -> Dict[str, Any]:
        """Publishes up to 100 events (`{"event_type", "data", ...}` each), each accepted or refused
        on its own: `{accepted, refused, data: [...]}`. Events without an `id` get one here."""
        batch = [_event(e["event_type"], e["data"], e.get("metadata"), e.get("id"), e.get("timestamp")) for e in events]
        return self._publish("publish_batch", {"events": batch}, traceparent)

    def _publish(self, route: str, body: Dict[str, Any], traceparent: Optional[str]) -> Dict[str, Any]:
        method, path = ROUTES[route]
        headers = {"traceparent": traceparent} if traceparent else None
        return self._publisher.request(method, path, body=body, headers=headers, idempotent=True)

    # Webhooks

    def create_webhook(self, name: str, url: str, events: Sequence[str], **fields: Any) -> Dict[str, Any]:
        """Registers a webhook; the answer is the only one that shows its secret in full. `fields`:
        `secret`, `is_active`, `description`, `headers`, `retry_policy`, `rate_limit_per_sec`."""
        return self._call("create_webhook", body={"name": name, "url": url, "events": list(events), **fields})

    def list_webhooks(self, **filters: Any) -> Dict[str, Any]:
        """One page: `{data, next_cursor, ...}`; filters `limit`, `cursor`, `is_active`, `event_type`."""
        return self._call("list_webhooks", query=filters)

    def iter_webhooks(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every webhook matching `filters`, page after page."""
        return self._pages("list_webhooks", {}, filters)

    def get_webhook(self, id: str) -> Dict[str, Any]:
        return self._call("get_webhook", {"id": id})

    def update_webhook(self, id: str, **changes: Any) -> Dict[str, Any]:
        """Changes some fields and keeps the others (reads the webhook, then replaces it)."""
        current = self.get_webhook(id)
        body = {name: current[name] for name in _WEBHOOK_FIELDS if current.get(name) is not None}
        if "retry_policy" in body:
            body["retry_policy"] = _policy_request(body["retry_policy"])
        body.update(changes)
        return self.replace_webhook(id, body)

    def replace_webhook(self, id: str, webhook: Dict[str, Any]) -> Dict[str, Any]:
        """Replaces the webhook with `webhook` (fields left out take their defaults; the secret is kept)."""
        return self._call("replace_webhook", {"id": id}, body=webhook)

    def delete_webhook(self, id: str) -> None:
        self._call("delete_webhook", {"id": id})

    def enable_webhook(self, id: str, *, release_held: bool = True) -> Dict[str, Any]:
        """Makes a paused, failing or disabled webhook active; `release_held=False` cancels what it held."""
        return self._call("enable_webhook", {"id": id}, body={"release_held": release_held})

    def test_webhook(self, id: str) -> Dict[str, Any]:
        """Sends a signed `webhook.test` event now; the attempt."""
        return self._call("test_webhook", {"id": id})

    def test_filter(self, filter: Optional[str] = None, *, transform: Optional[str] = None,
                    event_types: Optional[Sequence[str]] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        """How a content filter and a transformation fare on the newest delivered events, before they are saved."""
        body: Dict[str, Any] = {name: value for name, value in (("filter", filter), ("transform", transform)) if value is not None}
        if event_types is not None:
            body["event_types"] = list(event_types)
        if limit is not None:
            body["limit"] = limit
        return self._call("test_filter", body=body)

    def get_secret(self, id: str) -> Dict[str, Any]:
        return self._call("get_secret", {"id": id})

    def rotate_secret(self, id: str, *, secret: Optional[str] = None, grace_period_secs: Optional[int] = None) -> Dict[str, Any]:
        """A new secret; the old one keeps signing for the grace period (default 24 h)."""
        body = {name: value for name, value in (("secret", secret), ("grace_period_secs", grace_period_secs)) if value is not None}
        return self._call("rotate_secret", {"id": id}, body=body)

    # Deliveries and replays

    def list_deliveries(self, *, webhook_id: Optional[str] = None, **filters: Any) -> Dict[str, Any]:
        """One page of deliveries, of one webhook or all; filters `status`, `event_type`, `since`,
        `limit`, `cursor`."""
        if webhook_id:
            return self._call("list_webhook_deliveries", {"id": webhook_id}, query=filters)
        return self._call("list_deliveries", query=filters)

    def iter_deliveries(self, *, webhook_id: Optional[str] = None, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every matching delivery, newest first, page after page."""
        if webhook_id:
            return self._pages("list_webhook_deliveries", {"id": webhook_id}, filters)
        return self._pages("list_deliveries", {}, filters)

    def get_delivery(self, delivery_id: str) -> Dict[str, Any]:
        """One delivery with its `attempts_log` and `payload`."""
        return self._call("get_delivery", {"delivery_id": delivery_id})

    def replay_delivery(self, delivery_id: str) -> Dict[str, Any]:
        """A new round of attempts for a dead, cancelled or succeeded delivery."""
        return self._call("replay_delivery", {"delivery_id": delivery_id})

    def acknowledge_delivery(self, delivery_id: str) -> Dict[str, Any]:
        return self._call("acknowledge_delivery", {"delivery_id": delivery_id})

    def replay(self, *, webhook_id: Optional[str] = None, status: Optional[List[str]] = None,
               event_type: Optional[str] = None, since: Optional[str] = None, until: Optional[str] = None) -> Dict[str, Any]:
        """A bulk replay (dead deliveries unless `status` says otherwise): `{id, matched, replayed, finished}`."""
        selection = {"webhook_id": webhook_id, "status": status, "event_type": event_type, "since": since, "until": until}
        return self._call("replay", body={name: value for name, value in selection.items() if value is not None})

    def get_replay(self, id: str) -> Dict[str, Any]:
        return self._call("get_replay", {"id": id})

    # The catalog and metrics

    def event_types(self) -> List[Dict[str, Any]]:
        answer = self._call("event_types")
        return answer["data"] if isinstance(answer, dict) and "data" in answer else answer

    def event_type(self, event_type: str) -> Dict[str, Any]:
        return self._call("event_type", {"event_type": event_type})

    def metrics(self, **params: Any) -> Dict[str, Any]:
        """Delivery health: `since`, `until`, `bucket`, `webhook_id`, `event_type`."""
        return self._call("metrics", query=params)

    # Plumbing

    def _call(self, route: str, params: Optional[Dict[str, str]] = None, *, body: Any = None,
              query: Optional[Dict[str, Any]] = None) -> Any:
        method, template = ROUTES[route]
        path = template.format(**{name: urllib.parse.quote(value, safe="") for name, value in (params or {}).items()})
        return self._manager.request(method, path, body=body, query=query, idempotent=method in ("GET", "PUT", "DELETE"))

    def _pages(self, route: str, params: Dict[str, str], filters: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        query = dict(filters)
        while True:
            page = self._call(route, params, query=query)
            yield from page["data"]
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]


def _event(event_type: str, data: Any, metadata: Optional[Dict[str, Any]], id: Optional[str],
           timestamp: Optional[str]) -> Dict[str, Any]:
    event = {"id": id or f"evt_{uuid.uuid4().hex}", "event_type": event_type, "data": data}
    if metadata is not None:
        event["metadata"] = metadata
    if timestamp is not None:
        event["timestamp"] = timestamp
    return event


def _policy_request(policy: Dict[str, Any]) -> Dict[str, Any]:
    """A retry policy as `GET` shows it (`{max_attempts, schedule: {kind, ...}, jitter}`), in the
    form `PUT` takes."""
    schedule = policy.get("schedule", {})
    request = {"max_attempts": policy["max_attempts"], "jitter": policy["jitter"]}
    if schedule.get("kind") == "explicit":
        request["schedule_secs"] = schedule["delays_secs"]
    else:
        request.update({name: schedule[name] for name in ("base_delay_secs", "factor", "max_delay_secs") if name in schedule})
    return request
