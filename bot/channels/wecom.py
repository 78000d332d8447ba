"""WeCom app (grid workers and staff): encrypted callbacks → Inbound, Rendered → message.send, cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter

from bot.channels.base import Intake
from bot.platform_tokens import Fetch, SharedToken
from bot.stores import FileStore, Identities, IntakeLog
from db.models import Identity
from handlers.types import Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.render import Renderer
    from bot.service import Service

CHANNEL = "wecom"


@dataclass(frozen=True, slots=True)
class WeComConfig:
    """What the WeCom channel takes from the settings."""

    corp_id: str
    agent_id: int
    secret: str
    token: str  # the callback's Token
    aes_key: str  # EncodingAESKey: WeCom's callbacks are always encrypted
    api_base_url: str = "https://qyapi.weixin.qq.com"
    public_url: str = ""
    rate_limit: float = 20.0
    default_locale: str = "zh_CN"
    reply_lease: timedelta = timedelta(seconds=60)


def fetch_token(config: WeComConfig) -> Fetch:
    """How to fetch a new access token (gettoken), for the shared token store."""
    raise NotImplementedError


class WeComChannel:
    """The WeCom app adapter."""

    name = CHANNEL

    def __init__(
        self,
        config: WeComConfig,
        service: Service,
        log_store: IntakeLog,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        token: SharedToken,
    ) -> None:
        self.config = config
        self.service = service
        self.log_store = log_store
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.token = token
        self.intake = Intake()

    async def start(self) -> None:
        """Process what was stored before a crash."""

    async def stop(self) -> None:
        """Let go of what start took."""

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Process stored callbacks never processed (a crash, another process that died)."""

    def router(self) -> APIRouter | None:
        """The callback route."""
        return None

    async def push(self, identity: Identity, message: Rendered) -> None:
        """A text, an image or a template card through message.send."""
        raise NotImplementedError

    def messages_for(self, message: Rendered) -> int:
        """How many API calls `push` makes of this message."""
        return 1
