"""Hookline's Python client: publish events, manage webhooks and deliveries, verify requests.

    from hookline import Hookline
    hooks = Hookline("https://hooks.example.net", api_key="hk_…", token="eyJ…")
    hooks.publish("customer.created", {"id": 123, "full_name": "John Doe", "email": "john@example.com"})
"""

from .client import ROUTES, Hookline
from .errors import (AuthenticationError, ConflictError, HooklineConnectionError, HooklineError, NotFoundError,
                     PermissionDeniedError, RateLimitedError, ServerError, ValidationError)
from .triggers import EVENT_TYPES, Triggers
from .verify import WebhookVerificationError, verify

__all__ = [
    "Hookline", "ROUTES", "Triggers", "EVENT_TYPES", "verify", "WebhookVerificationError",
    "HooklineError", "HooklineConnectionError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "ConflictError", "ValidationError", "RateLimitedError", "ServerError",
]
__version__ = "0.1.0"
