"""An ASGI app served over HTTP on 127.0.0.1 by uvicorn: inside the running event loop (`async with`), or
in a thread of its own (`with`) for tests that call the app synchronously. The API doubles use it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AsgiServer:
    """Serves one ASGI app on a free (or given) port of 127.0.0.1."""

    def __init__(self, app: Any, port: int | None = None, name: str = "the server") -> None:
        self.app = app
        self.port = port or free_port()
        self.name = name
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL it answers at."""
        return f"http://127.0.0.1:{self.port}"

    def _make(self) -> Any:
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None
        return server

    async def start(self) -> None:
        """Start serving in this event loop; returns once the socket accepts connections."""
        self._server = self._make()
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError(f"{self.name} did not start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within 10 s")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        self._server = self._make()
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
