"""Typed errors: every refusal Hookline answers carries `code` and `detail` (and `field` for
validation), and each HTTP status class has its own exception so callers catch what they handle."""

from __future__ import annotations

from typing import Optional


class HooklineError(Exception):
    """Hookline answered with an error, or could not be reached."""

    def __init__(self, detail: str, *, status: Optional[int] = None, code: str = "error",
                 field: Optional[str] = None, retry_after: Optional[float] = None) -> None:
        super().__init__(f"{code}: {detail}" if status is None else f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.retry_after = retry_after


class HooklineConnectionError(HooklineError):
    """No answer: the connection failed or timed out (after the retries, for idempotent calls)."""


class AuthenticationError(HooklineError):
    """401: the token or API key is missing, invalid or expired."""


class PermissionDeniedError(HooklineError):
    """403: the credential is valid but its role does not allow this."""


class NotFoundError(HooklineError):
    """404: no such webhook, delivery, event type or route."""


class ConflictError(HooklineError):
    """409: for example an event id published again with other data."""


class ValidationError(HooklineError):
    """400, 413, 415 or 422: the request itself is wrong; `field` names what, when known."""


class RateLimitedError(HooklineError):
    """429: too many requests; `retry_after` says when to come back."""


class ServerError(HooklineError):
    """5xx, including 503 when Hookline is overloaded (with `retry_after`)."""


def error_for(status: int, body: dict, retry_after: Optional[float]) -> HooklineError:
    """The exception for an error answer, from its status and `{"code", "detail"}` body."""
    kind = {401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
            429: RateLimitedError}.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else ValidationError
    return kind(str(body.get("detail", "")), status=status, code=str(body.get("code", "error")),
                field=body.get("field"), retry_after=retry_after)
