"""Triggers shaped like the ISP platform's service-layer calls: one method per event type in
Hookline's catalog (`customer.created` → `triggers.customer_created(customer)`), taking the
platform's own objects (a dict, a dataclass, a Pydantic model or any object with attributes).

    triggers = Triggers(Hookline(url, api_key=key), source="customer_service")
    triggers.customer_created(customer, triggered_by=current_user.username)
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Dict, Optional

from .client import Hookline
from .errors import HooklineError

# The catalog's ISP event types, in its order; the test suite checks them against the server's.
EVENT_TYPES = (
    "customer.created", "customer.updated", "customer.deleted", "customer.service.created",
    "customer.service.updated", "customer.services.overview",
    "invoice.created", "invoice.paid", "invoice.overdue", "payment.processed",
    "service.activated", "service.suspended", "service.terminated",
    "network.site.created", "network.device.created", "network.device.up", "network.device.down",
    "ticket.created", "ticket.updated", "ticket.status_changed", "ticket.assigned", "ticket.resolved",
    "auth.login", "auth.logout", "auth.failed",
)

log = logging.getLogger("hookline")


def method_name(event_type: str) -> str:
    """`customer.service.created` → `customer_service_created`."""
    return event_type.replace(".", "_")


def as_data(thing: Any) -> Any:
    """An event's `data` from what the platform has at hand."""
    if isinstance(thing, dict):
        return thing
    if dataclasses.is_dataclass(thing) and not isinstance(thing, type):
        return dataclasses.asdict(thing)
    for exporter in ("model_dump", "dict", "to_dict"):
        export = getattr(thing, exporter, None)
        if callable(export):
            return export()
    if hasattr(thing, "__dict__"):
        return {name: value for name, value in vars(thing).items() if not name.startswith("_")}
    raise TypeError(f"cannot turn a {type(thing).__name__} into event data: pass a dict")


class Triggers:
    """Publishes the platform's events through `client`. `source` and `triggered_by` fill the
    event's `metadata`; with `raise_errors=False` a failed publish is logged and returns None,
    so a webhook problem never fails the business operation that raised the event."""

    def __init__(self, client: Hookline, *, source: str, triggered_by: Optional[str] = None, raise_errors: bool = True) -> None:
        self.client = client
        self.source = source
        self.triggered_by = triggered_by
        self.raise_errors = raise_errors

    def emit(self, event_type: str, thing: Any, *, triggered_by: Optional[str] = None,
             metadata: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Publishes `event_type` with `thing` as its data."""
        who = triggered_by or self.triggered_by or self.source
        try:
            return self.client.publish(event_type, as_data(thing), id=id,
                                       metadata={"source": self.source, "triggered_by": who, **(metadata or {})})
        except HooklineError:
            if self.raise_errors:
                raise
            log.exception("hookline: could not publish %s", event_type)
            return None


def _trigger(event_type: str) -> Callable[..., Optional[Dict[str, Any]]]:
    def trigger(self: Triggers, thing: Any, **options: Any) -> Optional[Dict[str, Any]]:
        return self.emit(event_type, thing, **options)

    trigger.__name__ = method_name(event_type)
    trigger.__doc__ = f"Publishes `{event_type}` with `thing` as its data (see `Triggers.emit` for the options)."
    return trigger


for _event_type in EVENT_TYPES:
    setattr(Triggers, method_name(_event_type), _trigger(_event_type))
