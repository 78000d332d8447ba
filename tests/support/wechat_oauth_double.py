"""A tiny WeChat double for the H5 page's sign-in and for invite QR codes, as an ASGI app.

It plays both hosts: WeChat's authorize page (`/connect/oauth2/authorize`, which sends the browser back to
`redirect_uri` with a code for whoever is "in WeChat" now) and the API (`/sns/oauth2/access_token`, code →
openid; `/cgi-bin/stable_token`; `/cgi-bin/qrcode/create`). It records every call and can be told to fail
the next code exchange. Use it in-process (`httpx.ASGITransport(double.app)`, or a TestClient) or over
HTTP on localhost (`serve`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from tests.support.served import free_port

APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret-0123456789"
ACCESS_TOKEN = "stable-token-from-the-double"


@dataclass
class Call:
    """One request the double answered: its path and its query (and JSON body, for a post)."""

    path: str
    params: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class WeChatOAuthDouble:
    """WeChat's authorize page and the few API methods the page sign-in and invite QR codes use."""

    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.secret = secret
        self.user = ""  # the openid of whoever is using WeChat's browser now
        self.calls: list[Call] = []
        self.codes: dict[str, str] = {}  # unused code → openid
        self.failures: list[Any] = []  # what the next code exchanges answer instead: a JSON body or a status
        self._serial = itertools.count(1)
        self.app = self._build()

    def fail_exchange(self, answer: Any) -> None:
        """Make the next code exchange answer `answer`: an errcode body (dict) or a bare HTTP status (int)."""
        self.failures.append(answer)

    def calls_to(self, path: str) -> list[Call]:
        """The recorded calls to one path."""
        return [call for call in self.calls if call.path == path]

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/connect/oauth2/authorize")
        def authorize(request: Request) -> Response:
            params = dict(request.query_params)
            self.calls.append(Call("/connect/oauth2/authorize", params))
            wanted = (params.get("appid"), params.get("response_type"), params.get("scope"))
            if wanted != (self.app_id, "code", "snsapi_base") or not params.get("redirect_uri"):
                return PlainTextResponse("redirect_uri 参数错误", status_code=400)
            code = f"code{next(self._serial):04d}"
            self.codes[code] = self.user
            back = urlencode({"code": code, "state": params.get("state", "")})
            return RedirectResponse(f"{params['redirect_uri']}?{back}", status_code=302)

        @app.get("/sns/oauth2/access_token")
        def access_token(request: Request) -> Response:
            params = dict(request.query_params)
            self.calls.append(Call("/sns/oauth2/access_token", params))
            if self.failures:
                failure = self.failures.pop(0)
                if isinstance(failure, int):
                    return PlainTextResponse("upstream error", status_code=failure)
                return JSONResponse(failure)
            if (params.get("appid"), params.get("secret")) != (self.app_id, self.secret):
                return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
            if params.get("grant_type") != "authorization_code":
                return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
            openid = self.codes.pop(params.get("code", ""), None)  # a code works once
            if not openid:
                return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
            return JSONResponse(
                {
                    "access_token": f"oauth-{openid}",
                    "expires_in": 7200,
                    "refresh_token": f"refresh-{openid}",
                    "openid": openid,
                    "scope": "snsapi_base",
                }
            )

        @app.post("/cgi-bin/stable_token")
        async def stable_token(request: Request) -> Response:
            body = await request.json()
            self.calls.append(Call("/cgi-bin/stable_token", dict(request.query_params), body))
            if (body.get("appid"), body.get("secret")) != (self.app_id, self.secret):
                return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
            return JSONResponse({"access_token": ACCESS_TOKEN, "expires_in": 7200})

        @app.post("/cgi-bin/qrcode/create")
        async def qrcode_create(request: Request) -> Response:
            body = await request.json()
            params = dict(request.query_params)
            self.calls.append(Call("/cgi-bin/qrcode/create", params, body))
            if params.get("access_token") != ACCESS_TOKEN:
                return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
            scene = body.get("action_info", {}).get("scene", {}).get("scene_str", "")
            if body.get("action_name") != "QR_LIMIT_STR_SCENE" or not 1 <= len(scene) <= 64:
                return JSONResponse({"errcode": 40053, "errmsg": "invalid action info"})
            return JSONResponse({"ticket": f"ticket-{scene}", "url": self.qr_url(scene)})

        return app

    @staticmethod
    def qr_url(scene: str) -> str:
        """The address the double's QR code for a scene opens (WeChat's are of this shape)."""
        return f"http://weixin.qq.com/q/{hashlib.sha256(scene.encode()).hexdigest()[:22]}"


@contextlib.contextmanager
def serve(double: WeChatOAuthDouble) -> Iterator[str]:
    """Serve the double over HTTP on localhost in a thread of its own; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(double.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # bounded wait for the socket to accept connections
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the WeChat double did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
