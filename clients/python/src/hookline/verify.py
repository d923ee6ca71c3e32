"""Verifying a request from Hookline, for receivers: the official Standard Webhooks library
does the work; this names it the way the rest of the client does."""

from __future__ import annotations

from typing import Any, Mapping, Union

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["verify", "WebhookVerificationError"]


def verify(secret: str, body: Union[bytes, str], headers: Mapping[str, str]) -> Any:
    """The event (the decoded body) when the request is genuine; raises
    `WebhookVerificationError` when it is forged, altered, stale or unsigned. `secret` is the
    webhook's `whsec_…` secret; `body` the raw bytes received; header names in any case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return Webhook(secret).verify(body, lowered)
