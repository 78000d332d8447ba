"""ASGI layers around the whole web app: bounded request bodies, and the headers every answer carries."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts, styles and everything else only from our own origin: no inline script can run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
}


class BodyTooLarge(HTTPException):
    """A request body over its route's limit (raised from `receive`, so a route stops reading at once)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {_size(limit)}")


class BodyLimit:
    """Answers 413 to a body over its path's limit: by Content-Length, and by counting what arrives."""

    def __init__(self, app: ASGIApp, default: int, by_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.by_path = by_path or {}

    def limit(self, path: str) -> int:
        """The body limit of a path: the longest matching prefix's, else the default."""
        matches = [prefix for prefix in self.by_path if path.startswith(prefix)]
        return self.by_path[max(matches, key=len)] if matches else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a lying or absent Content-Length is caught here
                raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse({"detail": BodyTooLarge(limit).detail}, status_code=413)
    await response(scope, receive, send)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


class SecurityHeaders:
    """Adds the headers every answer carries, and marks the session cookie Secure on https requests."""

    def __init__(self, app: ASGIApp, cookie: str, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.cookie = cookie.encode() + b"="
        self.headers = headers or HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"  # after a trusted proxy's X-Forwarded-Proto was applied

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)  # a route's own value (a stricter one) stays
                if https:
                    message["headers"] = [self._secure(name, value) for name, value in message["headers"]]
            await send(message)

        await self.app(scope, receive, with_headers)

    def _secure(self, name: bytes, value: bytes) -> tuple[bytes, bytes]:
        if name == b"set-cookie" and value.startswith(self.cookie) and b"; secure" not in value.lower():
            return name, value + b"; secure"
        return name, value


def clear_errors(errors: Any) -> str:
    """A validation failure as one short line that never fails to encode (the input itself is left out)."""
    parts = []
    for error in list(errors)[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
        message = str(error.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    line = "; ".join(parts) or "invalid request"
    return line.encode("utf-8", "replace").decode("utf-8")[:300]
