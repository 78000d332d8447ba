"""The composition root: builds settings, database, templates, service, channels and scheduler once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.channels.web_history import WebHistory
from bot.channels.webchat import WebChat, WebConfig
from bot.channels.wechat import WeChatChannel, WeChatConfig
from bot.channels.wechat import fetch_token as wechat_token
from bot.channels.wecom import WeComChannel, WeComConfig
from bot.channels.wecom import fetch_token as wecom_token
from bot.clock import Clock, SystemClock
from bot.console.desk import Kit
from bot.delivery import Dispatcher, RateLimit
from bot.platform_tokens import SharedToken
from bot.render import Renderer
from bot.service import Service
from bot.settings import Settings, load_settings
from bot.stores import FileStore, Identities, IntakeLog
from bot.throttle import web_throttle
from db.categories import Catalog, load_catalog
from db.engine import make_engine, session_factory
from db.policy import load_library
from db.sla import Policy, load_policy


@dataclass
class App:
    """Everything a running Linli process is made of, wired together."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    renderer: Renderer
    catalog: Catalog
    policy: Policy
    clock: Clock
    service: Service
    dispatcher: Dispatcher
    channels: dict[str, Channel] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    console: Kit | None = None


def build(settings: Settings | None = None, clock: Clock | None = None, telegram_request: Any = None) -> App:
    """Assemble the application; nothing connects until it is started."""
    settings = settings or load_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    catalog = load_catalog(settings.categories_file)
    policy = load_policy(settings.sla_policy_file, settings.zone)
    library = load_library(settings.policy_dir)
    renderer = Renderer(settings.zone, settings.default_locale, catalog=catalog)
    service = Service(
        sessions,
        renderer,
        catalog,
        policy,
        clock,
        settings.default_locale,
        settings.public_url,
        files_dir=settings.files_dir,
        library=library,
        seal_key=settings.seal_key,
    )
    channels: dict[str, Channel] = {}
    limits = {
        "telegram": RateLimit(per_second=settings.telegram_rate_limit),
        "wechat": RateLimit(per_second=settings.wechat_rate_limit, per_chat_gap=0.2),
        # WeCom counts what each member receives: 30 a minute and 1000 an hour.
        "wecom": RateLimit(per_second=20.0, per_chat_gap=0.2, per_chat=("30/minute", "1000/hour")),
    }
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    dispatcher = Dispatcher(
        sessions, renderer, clock, channels, policy, limits=limits, lease=lease, sent=service.sent
    )
    extras: dict[str, Any] = {}
    files = FileStore(settings.files_dir)
    channels["web"] = WebChat(
        web_config(settings),
        service,
        WebHistory(sessions, clock, WebChat.name),
        Identities(sessions, WebChat.name),
        files,
        renderer,
        clock,
        web_throttle(settings),
        demo=lambda: bool(extras.get("demo")),
    )
    if settings.telegram_bot_token:
        channels["telegram"] = TelegramChannel(
            telegram_config(settings),
            service,
            IntakeLog(sessions, clock, TelegramChannel.name),
            Identities(sessions, TelegramChannel.name),
            files,
            renderer,
            clock,
            request=telegram_request,
        )
    if settings.wechat_on:
        wechat = wechat_config(settings)
        channels["wechat"] = WeChatChannel(
            wechat,
            service,
            IntakeLog(sessions, clock, WeChatChannel.name),
            Identities(sessions, WeChatChannel.name),
            files,
            renderer,
            clock,
            SharedToken(sessions, clock, f"wechat:{wechat.app_id}", wechat_token(wechat)),
        )
    if settings.wecom_on:
        wecom = wecom_config(settings)
        channels["wecom"] = WeComChannel(
            wecom,
            service,
            IntakeLog(sessions, clock, WeComChannel.name),
            Identities(sessions, WeComChannel.name),
            files,
            renderer,
            clock,
            SharedToken(sessions, clock, f"wecom:{wecom.corp_id}:{wecom.agent_id}", wecom_token(wecom)),
            budget=limits["wecom"],
        )
    console = Kit(
        sessions,
        clock,
        policy,
        catalog,
        settings.zone,
        settings.public_url,
        settings.default_locale,
        files_dir=settings.files_dir,
        seal_key=settings.seal_key,
        on_push=lambda: service.on_push() if service.on_push is not None else None,
        extras={"renderer": renderer, "library": library},
    )
    return App(
        settings,
        engine,
        sessions,
        renderer,
        catalog,
        policy,
        clock,
        service,
        dispatcher,
        channels,
        extras,
        console,
    )


def web_config(settings: Settings) -> WebConfig:
    """The web chat's part of the settings."""
    return WebConfig(
        public_url=settings.public_url,
        default_locale=settings.default_locale,
        max_upload_bytes=settings.max_upload_bytes,
        daily_photos=settings.web_upload_daily_photos,
        daily_mb=settings.web_upload_daily_mb,
    )


def telegram_config(settings: Settings) -> TelegramConfig:
    """The Telegram channel's part of the settings."""
    return TelegramConfig(
        token=settings.telegram_bot_token,
        api_base_url=str(settings.telegram_api_base_url or ""),
        webhook_url=str(settings.telegram_webhook_url or ""),
        webhook_secret=settings.telegram_webhook_secret,
        poll_timeout=settings.telegram_poll_timeout,
        reply_lease=timedelta(seconds=settings.outbox_lease_seconds),
    )


def wechat_config(settings: Settings) -> WeChatConfig:
    """The WeChat Official Account channel's part of the settings."""
    return WeChatConfig(
        app_id=settings.wechat_app_id,
        app_secret=settings.wechat_app_secret,
        token=settings.wechat_token,
        aes_key=settings.wechat_aes_key,
        api_base_url=str(settings.wechat_api_base_url).rstrip("/"),
        open_base_url=str(settings.wechat_open_base_url).rstrip("/"),
        templates_file=settings.wechat_templates_file,
        public_url=settings.public_url,
        rate_limit=settings.wechat_rate_limit,
        window_messages=settings.wechat_window_messages,
        default_locale=settings.default_locale,
        reply_lease=timedelta(seconds=settings.outbox_lease_seconds),
    )


def wecom_config(settings: Settings) -> WeComConfig:
    """The WeCom app channel's part of the settings."""
    assert settings.wecom_agent_id is not None  # wecom_on says so
    return WeComConfig(
        corp_id=settings.wecom_corp_id,
        agent_id=settings.wecom_agent_id,
        secret=settings.wecom_secret,
        token=settings.wecom_token,
        aes_key=settings.wecom_aes_key,
        api_base_url=str(settings.wecom_api_base_url).rstrip("/"),
        public_url=settings.public_url,
        default_locale=settings.default_locale,
        reply_lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
