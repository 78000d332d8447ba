"""Start `linli run` as a real process on a free port, for restart and browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.served import free_port

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """`python -m bot run` in a subprocess with its own var directory and port."""

    def __init__(self, var_dir: Path, port: int | None = None, **env: str) -> None:
        self.var_dir = var_dir
        self.port = port or free_port()
        # Daytime where the process runs, so its pushes are not held for quiet hours whenever tests run.
        self.env = {
            **os.environ,
            "LINLI_VAR_DIR": str(var_dir),
            "WEB_PORT": str(self.port),
            "TIME_ZONE": daytime_zone(),
            **env,
        }
        self.env.pop("TELEGRAM_BOT_TOKEN", None) if "TELEGRAM_BOT_TOKEN" not in env else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = var_dir / "bot.log"

    @property
    def url(self) -> str:
        """The base URL of the web app."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> BotProcess:
        """Start the process and wait until /healthz answers."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bot exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"bot did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """Stop the process abruptly (SIGKILL), as a crash or power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the process cleanly (SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def daytime_zone() -> str:
    """A time zone where it is about noon right now, for a real process whose pushes must not wait for
    the end of quiet hours (22:00–07:00 local) whenever the suite happens to run."""
    from datetime import UTC, datetime

    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # -12..11 hours from UTC
    return f"Etc/GMT{-offset:+d}"  # the Etc zones count the other way: Etc/GMT-8 is UTC+8
