"""WeChat callbacks per second through Linli's full stack, as a ratio against a bare FastAPI route that only
checks the signature and echoes, in the same run; the time to answer under concurrent callbacks; and the
turns WeChat's retries would run twice (there must be none).

N residents each walk a whole report on WeChat (scan an invite's QR code, the 报事 menu button, a numbered
category, a description, skip the photos, skip the location, submit) through the web app that
`bot.bootstrap.build` and `bot.web.create_web_app` assemble, served by uvicorn on 127.0.0.1, on SQLite in a
temporary directory: signature check, inbound log, turn, passive reply (the 客服 messages go to the
in-process API double after the answer). Each step is posted by up to `--concurrency` residents at once,
then every callback of the step is posted again as WeChat's retry would be. The same callbacks then go to
the bare route, with the same concurrency.

Each server (Linli with its API double, then the bare route) runs in a process of its own, apart from
the client that posts the callbacks and times them: the client's own work and the interpreter lock it
would share would otherwise count in the server's time to answer. The server process also serves a
small control route on another port, through which the client reads what the double received (the
menus a step chooses from) and waits for the 客服 messages of a step to leave.

Run from the repository root: `.venv/bin/python bench/wechat.py [--n 200] [--concurrency 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import xmltodict  # noqa: E402
from fastapi import FastAPI, HTTPException, Request, Response  # noqa: E402
from sqlmodel import func, select  # noqa: E402
from wechatpy.utils import check_signature  # noqa: E402

from bot.bootstrap import build  # noqa: E402
from bot.channels.wechat_wire import passive_xml  # noqa: E402
from bot.runner import prepare  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.web import create_web_app  # noqa: E402
from db import people  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Home, InboundLog, Ticket  # noqa: E402
from tests.support.served import free_port  # noqa: E402
from tests.support.wechat_api import (  # noqa: E402
    APP_ID,
    IN_PROCESS_BASE,
    SECRET,
    AsgiServer,
    InProcessAdapter,
    WeChatApi,
)
from tests.support.wechat_server import TOKEN, WeChatServer, WxUser  # noqa: E402

CATEGORIES = ("water", "elevator", "power", "facility", "sanitation", "noise", "parking", "heating")


@dataclass
class Run:
    """What one path measured."""

    callbacks: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Callbacks per second."""
        return self.callbacks / self.seconds if self.seconds else 0.0


@dataclass
class Resident:
    """One simulated resident and where they are in the report flow."""

    user: WxUser
    invite: str
    category: str
    step: int = 0


def next_callback(resident: Resident, numbers: dict[str, int], menus: dict[str, list[str]]) -> str | None:
    """The resident's next callback, chosen from what the bot last showed (`menus`: the button ids of the
    last 客服 menu each resident got); None when the report is filed."""
    user, step = resident.user, resident.step
    resident.step += 1
    if step == 0:
        return user.subscribe(resident.invite)
    if step == 1:
        return user.click("cmd:/report")
    if step == 2:
        return user.text(str(numbers[resident.category]))
    if step == 3:
        return user.text(f"{resident.category} 问题，来自住户 {user.openid[-6:]}")
    if step == 4:
        if "r:n" in menus.get(user.openid, []):
            return user.tap("r:n", "新建")  # a neighbour's open ticket matched: file a new one
        resident.step += 1
        step = 5
    if step == 5:  # the summary (the place is the resident's building): submit
        return user.tap("r:ok", "…")
    return None


class Connection:
    """One kept-alive HTTP/1.1 connection that posts and reads the answer, with as little work as can be:
    a general client's own bookkeeping (a pool of 50 connections) would otherwise be the slowest part,
    and its time would count as the server's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base_url: str) -> Connection:
        """A connection to the server at base_url (http://host:port)."""
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer, parts.netloc)

    async def post(self, target: str, body: bytes) -> tuple[int, bytes]:
        """POST body to target (path and query); the answer's status and body."""
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        length = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("content-length")
        if length is None:
            raise SystemExit(f"an answer without Content-Length: {lines[0]}")
        return int(lines[0].split(" ", 2)[1]), await self.reader.readexactly(int(length))

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def post_all(server: WeChatServer, callbacks: list[str], concurrency: int, run: Run) -> list[bytes]:
    """Post callbacks, `concurrency` at a time (each on a connection of its own); the answers' bodies in
    order."""
    answers: list[bytes] = []
    connections = [await Connection.open(server.base_url) for _ in range(min(concurrency, len(callbacks)))]
    try:
        for start in range(0, len(callbacks), concurrency):
            chunk = [server.signed_query(xml) for xml in callbacks[start : start + concurrency]]
            targets = [(f"{server.path}?{urlencode(query)}", body.encode()) for query, body in chunk]

            async def one(connection: Connection, target: str, body: bytes) -> bytes:
                began = time.perf_counter()
                status, answer = await connection.post(target, body)
                run.latencies.append(time.perf_counter() - began)
                if status != 200:
                    raise SystemExit(f"callback answered {status}: {answer[:200]!r}")
                return answer

            began = time.perf_counter()
            answers.extend(
                await asyncio.gather(*(one(c, t, b) for c, (t, b) in zip(connections, targets, strict=False)))
            )
            run.seconds += time.perf_counter() - began
            run.callbacks += len(chunk)
    finally:
        for connection in connections:
            await connection.close()
    return answers


# --- the server processes -------------------------------------------------------------------------


def serve_linli(workdir: str, n: int, port: int, control_port: int) -> None:
    """The Linli server process: the web app with the API double, and the control route, until stopped."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_linli(Path(workdir), n, port, control_port))


async def _serve_linli(workdir: Path, n: int, port: int, control_port: int) -> None:
    url = f"sqlite:///{workdir / 'linli.db'}"
    upgrade(url)
    keys = {"SECRET_KEY": secrets.token_urlsafe(32), "BALLOT_KEY": secrets.token_urlsafe(32)}
    settings = load_settings(
        LINLI_VAR_DIR=workdir / "var",
        DATABASE_URL=url,
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=SECRET,
        WECHAT_TOKEN=TOKEN,
        WECHAT_API_BASE_URL=IN_PROCESS_BASE,
        **keys,
    )
    app = build(settings)
    prepare(app)
    channel: Any = app.channels["wechat"]
    api = WeChatApi()
    channel.http.mount(IN_PROCESS_BASE, InProcessAdapter(api))
    numbers = {c.key: i for i, c in enumerate(app.catalog.ordered, 1)}
    with app.sessions() as session:  # one single-use owner invite per resident, spread over the demo homes
        homes = list(session.exec(select(Home.id).order_by(Home.id)).all())
        now = app.clock.now()
        invites = [
            people.create_invite(session, "owner", now, home_id=homes[i % len(homes)]).code for i in range(n)
        ]
        session.commit()
    stop = asyncio.Event()
    control = FastAPI()

    @control.get("/setup")
    async def setup() -> dict[str, Any]:
        return {"invites": invites, "numbers": numbers}

    @control.post("/menus")
    async def menus(openids: list[str]) -> dict[str, list[str]]:
        last = {openid: api.menus_to(openid) for openid in openids}
        return {openid: [str(item["id"]) for item in got[-1]["list"]] for openid, got in last.items() if got}

    @control.post("/inbound")
    async def inbound(openids: list[str]) -> None:
        for openid in openids:
            api.note_inbound(openid)

    @control.get("/idle")
    async def idle() -> bool:
        return not channel._tasks and not channel._in_flight

    @control.get("/counts")
    async def counts() -> dict[str, int]:
        with app.sessions() as session:
            filed = session.exec(select(func.count()).select_from(Ticket)).one()
            rows = session.exec(
                select(func.count()).select_from(InboundLog).where(InboundLog.channel == "wechat")
            ).one()
        return {"filed": int(filed), "rows": int(rows)}

    @control.post("/stop")
    async def stopping() -> None:
        stop.set()

    async with (
        AsgiServer(create_web_app(app), port, "the web app"),
        AsgiServer(control, control_port, "the control route"),
    ):
        await stop.wait()
    app.engine.dispose()


def serve_bare(port: int) -> None:
    """The bare route's server process, until terminated."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_bare(port))


async def _serve_bare(port: int) -> None:
    async with AsgiServer(bare_app(), port, "the bare route"):
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def process(target: Callable[..., None], *args: Any, ready: str) -> AsyncIterator[None]:
    """Run `target(*args)` in a process of its own (a fresh interpreter) while the block runs, once a
    GET of `ready` answers at all."""
    child = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    child.start()
    try:
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    await client.get(ready)
                    break
                if not child.is_alive() or time.monotonic() > deadline:
                    raise SystemExit(f"the server process did not start (exit code {child.exitcode})")
                await asyncio.sleep(0.1)
        yield
    finally:
        if child.is_alive():
            child.terminate()
        child.join(10)


# --- the runs -------------------------------------------------------------------------------------


async def run_linli(n: int, concurrency: int, workdir: Path) -> tuple[Run, list[str], int, int, int]:
    """Drive N report flows; returns measurements, the callbacks, tickets filed, duplicate turns, rows."""
    port, control_port = free_port(), free_port()
    control_url = f"http://127.0.0.1:{control_port}"
    async with (
        process(serve_linli, str(workdir), n, port, control_port, ready=f"{control_url}/setup"),
        httpx.AsyncClient(base_url=control_url, timeout=60) as control,
    ):
        setup = (await control.get("/setup")).json()
        invites, numbers = setup["invites"], setup["numbers"]
        server = WeChatServer(f"http://127.0.0.1:{port}")
        residents = [
            Resident(server.user(f"o_bench_{i:020d}"), invites[i], CATEGORIES[i % len(CATEGORIES)])
            for i in range(n)
        ]
        openids = [r.user.openid for r in residents]
        run, replays = Run(), Run()
        fed: list[str] = []
        duplicates = 0
        menus: dict[str, list[str]] = {}
        while acts := [(r, x) for r in residents if (x := next_callback(r, numbers, menus)) is not None]:
            # What WeChat's own servers know of each follower's action: their 客服 window is open.
            await control.post("/inbound", json=[r.user.openid for r, _ in acts])
            wave = [x for _, x in acts]
            await post_all(server, wave, concurrency, run)
            fed.extend(wave)
            # WeChat's retry of each: answered "success" and no second turn.
            answers = await post_all(server, wave, concurrency, replays)
            duplicates += sum(1 for body in answers if body.strip() != b"success")
            while not (await control.get("/idle")).json():  # the 客服 messages of the wave have left
                await asyncio.sleep(0.02)
            menus = (await control.post("/menus", json=openids)).json()
        counts = (await control.get("/counts")).json()
        await control.post("/stop")
    return run, fed, int(counts["filed"]), duplicates, int(counts["rows"])


def bare_app() -> FastAPI:
    """A route that only checks the signature, reads the XML and echoes it as a passive reply."""
    web = FastAPI()

    @web.post("/wechat/callback")
    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
        except Exception:
            raise HTTPException(403) from None
        fields = xmltodict.parse(await request.body())["xml"]
        echo = passive_xml(str(fields.get("Content") or "?"), fields["FromUserName"], fields["ToUserName"], 0)
        return Response(echo, media_type="application/xml")

    return web


async def run_bare(callbacks: list[str], concurrency: int) -> Run:
    """The same callbacks through the bare route, with the same concurrency."""
    run = Run()
    port = free_port()
    async with process(serve_bare, port, ready=f"http://127.0.0.1:{port}/"):
        await post_all(WeChatServer(f"http://127.0.0.1:{port}"), callbacks, concurrency, run)
    return run


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


async def main(n: int, concurrency: int) -> int:
    """Run both paths and print the comparison; non-zero exit when a report went missing or ran twice."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        linli, fed, filed, duplicates, rows = await run_linli(n, concurrency, Path(tmp))
    bare = await run_bare(fed, concurrency)
    ms = 1000
    print(f"WeChat callbacks: {n} residents, {len(fed)} callbacks, {concurrency} at a time, SQLite")
    print(f"  Linli (full stack):  {linli.rate:8.1f} callbacks/s")
    print(f"  bare signed echo:    {bare.rate:8.1f} callbacks/s")
    print(f"  ratio Linli / bare:  {linli.rate / bare.rate:8.3f}")
    print(
        f"  time to answer, Linli: p50 {percentile(linli.latencies, 50) * ms:.0f} ms, "
        f"p99 {percentile(linli.latencies, 99) * ms:.0f} ms (WeChat waits 5000 ms)"
    )
    print(f"  retries posted: {len(fed)}, turns run twice: {duplicates}")
    print(f"  tickets filed: {filed} of {n}; inbound log rows: {rows} (one per callback)")
    return 0 if filed == n and duplicates == 0 and rows == len(fed) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="residents (each files one report)")
    parser.add_argument("--concurrency", type=int, default=50, help="callbacks posted at once")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.n, args.concurrency)))
