"""WeChat Official Account (residents): callbacks → Inbound, Rendered → 客服 and template messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
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

CHANNEL = "wechat"


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    """What the WeChat channel takes from the settings."""

    app_id: str
    app_secret: str
    token: str  # the callback's Token
    aes_key: str = ""  # EncodingAESKey: safe mode when set
    api_base_url: str = "https://api.weixin.qq.com"
    open_base_url: str = "https://open.weixin.qq.com"
    templates_file: Path | None = None
    public_url: str = ""
    rate_limit: float = 20.0
    window_messages: int = 20
    default_locale: str = "zh_CN"
    reply_lease: timedelta = timedelta(seconds=60)


def fetch_token(config: WeChatConfig) -> Fetch:
    """How to fetch a new access token (the stable-token endpoint), for the shared token store."""
    raise NotImplementedError


class WeChatChannel:
    """The WeChat Official Account adapter."""

    name = CHANNEL

    def __init__(
        self,
        config: WeChatConfig,
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
        """Publish the menu and process what was stored before a crash."""

    async def stop(self) -> None:
        """Let go of what start took."""

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Process stored callbacks never processed (a crash, another process that died)."""

    def router(self) -> APIRouter | None:
        """The callback route."""
        return None

    async def push(self, identity: Identity, message: Rendered) -> None:
        """A 客服 message inside the 48-hour window, else a template message."""
        raise NotImplementedError

    def messages_for(self, message: Rendered) -> int:
        """How many API calls `push` makes of this message."""
        return 1
