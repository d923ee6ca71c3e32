"""HTTP with the standard library: JSON in and out, typed errors, and retries with exponential
backoff and jitter for calls that are safe to repeat (the caller says which)."""

from __future__ import annotations

import email.utils
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

from .errors import HooklineConnectionError, HooklineError, error_for

USER_AGENT = "hookline-python/0.1.0"
# Statuses worth another try: the server may answer differently in a moment.
RETRYABLE = {429, 500, 502, 503, 504}


class Transport:
    def __init__(self, base_url: str, headers: Dict[str, str], timeout: float, max_retries: int,
                 backoff: float, max_backoff: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def request(self, method: str, path: str, *, body: Any = None, query: Optional[Dict[str, Any]] = None,
                headers: Optional[Dict[str, str]] = None, idempotent: bool) -> Any:
        """The decoded JSON answer (None for an empty one); retried when `idempotent`."""
        attempt = 0
        while True:
            try:
                return self._once(method, path, body, query, headers or {})
            except HooklineError as error:
                retryable = isinstance(error, HooklineConnectionError) or error.status in RETRYABLE
                if not (idempotent and retryable) or attempt >= self.max_retries:
                    raise
                time.sleep(self._delay(attempt, error.retry_after))
                attempt += 1

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
        ceiling = min(self.max_backoff, self.backoff * (2 ** attempt))
        return max(random.uniform(0, ceiling), retry_after or 0.0)

    def _once(self, method: str, path: str, body: Any, query: Optional[Dict[str, Any]], extra: Dict[str, str]) -> Any:
        url = self.base_url + path
        pairs = {name: _query_value(value) for name, value in (query or {}).items() if value is not None}
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        data = None if body is None else json.dumps(body).encode()
        headers = {"accept": "application/json", "user-agent": USER_AGENT, **self.headers, **extra}
        if data is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _decode(response.read())
        except urllib.error.HTTPError as answer:
            raw = answer.read()
            decoded = _decode(raw) if raw else {}
            if not isinstance(decoded, dict):
                decoded = {"detail": str(decoded)}
            raise error_for(answer.code, decoded, _retry_after(answer.headers.get("retry-after"))) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as failure:
            reason = getattr(failure, "reason", failure)
            raise HooklineConnectionError(f"{method} {url}: {reason}", code="connection_failed") from None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"detail": raw.decode(errors="replace")[:500]}


def _retry_after(raw: Optional[str]) -> Optional[float]:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
