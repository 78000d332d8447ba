"""Settings from the environment and `.env`; a bad value stops the start with one clear line."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIN_KEY_LENGTH = 32
NEW_KEY_HINT = "e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


WECHAT_API = "https://api.weixin.qq.com"
WECHAT_OPEN = "https://open.weixin.qq.com"
WECOM_API = "https://qyapi.weixin.qq.com"
AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")  # the 43 characters both consoles generate
CALLBACK_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")  # what both consoles accept as the callback Token


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    """Every knob of a Linli process."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    var_dir: Path = Field(default=PROJECT_ROOT / "var", alias="LINLI_VAR_DIR")
    database_url: str = Field(default="", alias="DATABASE_URL")
    telegram_bot_token: str = Field(default="", alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: AnyHttpUrl | None = Field(default=None, alias="TELEGRAM_API_BASE_URL")
    telegram_webhook_url: AnyHttpUrl | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str = Field(default="", alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_poll_timeout: int = Field(default=25, ge=0, le=60, alias="TELEGRAM_POLL_TIMEOUT")
    # Telegram's bulk limit is 30 messages/s; up to 1000/s with paid broadcasts enabled for the bot.
    telegram_rate_limit: float = Field(default=30.0, gt=0, le=1000, alias="TELEGRAM_RATE_LIMIT")
    # WeChat Official Account (residents): on when the app id and secret are set.
    wechat_app_id: str = Field(default="", alias="WECHAT_APP_ID")
    wechat_app_secret: str = Field(default="", alias="WECHAT_APP_SECRET")
    wechat_token: str = Field(default="", alias="WECHAT_TOKEN")
    wechat_aes_key: str = Field(default="", alias="WECHAT_AES_KEY")  # safe mode when set
    wechat_api_base_url: AnyHttpUrl = Field(default=AnyHttpUrl(WECHAT_API), alias="WECHAT_API_BASE_URL")
    wechat_open_base_url: AnyHttpUrl = Field(default=AnyHttpUrl(WECHAT_OPEN), alias="WECHAT_OPEN_BASE_URL")
    wechat_templates_file: Path = Field(
        default=PROJECT_ROOT / "data" / "wechat_templates.yaml", alias="WECHAT_TEMPLATES"
    )
    wechat_rate_limit: float = Field(default=20.0, gt=0, le=1000, alias="WECHAT_RATE_LIMIT")
    # 客服 messages allowed after each message from the resident, within the 48 hours it opens.
    wechat_window_messages: int = Field(default=20, ge=1, le=1000, alias="WECHAT_WINDOW_MESSAGES")
    # WeCom app (grid workers and staff): on when the corp id, agent id and secret are set.
    wecom_corp_id: str = Field(default="", alias="WECOM_CORP_ID")
    wecom_agent_id: int | None = Field(default=None, ge=1, alias="WECOM_AGENT_ID")
    wecom_secret: str = Field(default="", alias="WECOM_SECRET")
    wecom_token: str = Field(default="", alias="WECOM_TOKEN")
    wecom_aes_key: str = Field(default="", alias="WECOM_AES_KEY")
    wecom_api_base_url: AnyHttpUrl = Field(default=AnyHttpUrl(WECOM_API), alias="WECOM_API_BASE_URL")
    # How long a dispatcher leases outbox rows: a crashed one's rows are sent again after this.
    outbox_lease_seconds: float = Field(default=60.0, ge=2, le=3600, alias="LINLI_OUTBOX_LEASE")
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8080, ge=1, le=65535, alias="WEB_PORT")
    web_public_url: str = Field(default="", alias="WEB_PUBLIC_URL")
    secret_key: str = Field(default="", alias="SECRET_KEY")
    # Seals and encrypts secret ballots: apart from SECRET_KEY, so rotating the cookie key never touches them.
    ballot_key: str = Field(default="", alias="BALLOT_KEY")
    default_locale: str = Field(default="zh_CN", alias="DEFAULT_LOCALE")
    time_zone: str = Field(default="Asia/Shanghai", alias="TIME_ZONE")
    # None: on with SQLite, off with PostgreSQL; an explicit 1 with PostgreSQL stops the start.
    load_demo: bool | None = Field(default=None, alias="LINLI_DEMO")
    categories_file: Path = Field(default=PROJECT_ROOT / "data" / "categories.yaml", alias="LINLI_CATEGORIES")
    sla_policy_file: Path = Field(default=PROJECT_ROOT / "data" / "sla_policy.yaml", alias="LINLI_SLA_POLICY")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0, alias="LINLI_MAX_UPLOAD_BYTES")
    policy_dir: Path = Field(default=PROJECT_ROOT / "data" / "policy", alias="LINLI_POLICY_DIR")
    # The web chat's budgets ("N/second|minute|hour|day", several joined by ";"); "" turns one off. They
    # live in each process's memory: with several processes each one grants the full budget.
    web_rate_send: str = Field(default="30/minute;500/day", alias="WEB_RATE_SEND")
    web_rate_send_ip: str = Field(default="300/minute", alias="WEB_RATE_SEND_IP")
    web_rate_photo: str = Field(default="10/minute", alias="WEB_RATE_PHOTO")
    web_rate_photo_ip: str = Field(default="60/minute", alias="WEB_RATE_PHOTO_IP")
    web_rate_read: str = Field(default="90/minute", alias="WEB_RATE_READ")
    web_rate_read_ip: str = Field(default="1800/minute", alias="WEB_RATE_READ_IP")
    # New sessions (a first GET /chat) per address: generous, as a carrier's NAT puts many phones behind one.
    web_rate_new_session_ip: str = Field(default="60/hour;500/day", alias="WEB_RATE_NEW_SESSION_IP")
    # What one person may upload in 24 hours, counted from the photos they stored.
    web_upload_daily_photos: int = Field(default=30, ge=0, alias="WEB_UPLOAD_DAILY_PHOTOS")
    web_upload_daily_mb: int = Field(default=50, ge=0, alias="WEB_UPLOAD_DAILY_MB")
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (IPs or networks, comma-separated).
    trusted_proxies: str = Field(default="127.0.0.1,::1", alias="TRUSTED_PROXIES")
    # People who never joined (no home, no role, nothing filed) are forgotten this long after their last turn.
    forget_unjoined_days: int = Field(default=7, ge=1, le=3650, alias="LINLI_FORGET_UNJOINED_DAYS")

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("zh_CN", "en"):
            raise ValueError("must be zh_CN or en")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator(
        "web_rate_send",
        "web_rate_send_ip",
        "web_rate_photo",
        "web_rate_photo_ip",
        "web_rate_read",
        "web_rate_read_ip",
        "web_rate_new_session_ip",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        value = value.strip()
        if value:
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate such as 30/minute or 10/minute;200/day") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        # Written back in canonical form: 10.1.2.3/8 means the network 10.0.0.0/8, and a single address
        # stays an address, which is how the proxy-headers middleware matches them.
        canonical = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                network = ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
            single = network.num_addresses == 1 and "/" not in item
            canonical.append(str(network.network_address) if single else str(network))
        return ",".join(canonical)

    @field_validator("wechat_app_id")
    @classmethod
    def _wechat_app_id(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"wx[0-9a-f]{16}", value):
            raise ValueError("must be the AppID from the Official Account's console: wx and 16 hex digits")
        return value

    @field_validator("wecom_corp_id")
    @classmethod
    def _wecom_corp_id(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"w[wx][0-9a-f]{16}", value):
            raise ValueError("must be the CorpID from WeCom's admin console: ww and 16 hex digits")
        return value

    @field_validator("wechat_token", "wecom_token")
    @classmethod
    def _callback_token(cls, value: str) -> str:
        value = value.strip()
        if value and not CALLBACK_TOKEN.match(value):
            raise ValueError("must be 3 to 32 letters or digits, as entered in the platform's console")
        return value

    @field_validator("wechat_aes_key", "wecom_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        value = value.strip()
        if value and not AES_KEY.match(value):
            raise ValueError("must be the 43-character EncodingAESKey from the platform's console")
        return value

    @field_validator("wechat_app_secret", "wecom_secret")
    @classmethod
    def _app_secret(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", value):
            raise ValueError("must be the secret from the platform's console (letters and digits)")
        return value

    @model_validator(mode="after")
    def _complete_platforms(self) -> Settings:
        # Half a platform's settings is a mistake worth stopping for: the channel would be silently off.
        if bool(self.wechat_app_id) != bool(self.wechat_app_secret):
            raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET must be set together")
        if self.wechat_app_id and not self.wechat_token:
            raise ValueError("WECHAT_TOKEN is required with WECHAT_APP_ID (the callback's Token)")
        wecom = (self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret)
        if any(wecom) and not all(wecom):
            raise ValueError("WECOM_CORP_ID, WECOM_AGENT_ID and WECOM_SECRET must be set together")
        if self.wecom_corp_id and not (self.wecom_token and self.wecom_aes_key):
            raise ValueError(
                "WECOM_TOKEN and WECOM_AES_KEY are required with WECOM_CORP_ID (callbacks are encrypted)"
            )
        return self

    @property
    def wechat_on(self) -> bool:
        """Whether the WeChat Official Account channel runs."""
        return bool(self.wechat_app_id and self.wechat_app_secret)

    @property
    def wecom_on(self) -> bool:
        """Whether the WeCom app channel runs."""
        return bool(self.wecom_corp_id and self.wecom_agent_id and self.wecom_secret)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        value = value.strip()
        # The plain forms that hosting panels hand out mean the psycopg 3 driver we ship.
        for plain in ("postgres://", "postgresql://"):
            if value.startswith(plain):
                return "postgresql+psycopg://" + value[len(plain) :]
        if value and not value.startswith(("sqlite://", "sqlite+pysqlite://", "postgresql+psycopg://")):
            scheme = value.split(":", 1)[0]  # never echo the rest: it may hold a password
            raise ValueError(
                f"must look like sqlite:///path/to/linli.db or postgresql://user@host/db, not {scheme}:..."
            )
        return value

    @field_validator("secret_key", "ballot_key")
    @classmethod
    def _strong_key(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            if is_sqlite(info.data.get("database_url", "")):
                return ""  # generated and kept in the var directory, beside the database
            if info.field_name == "ballot_key":
                raise ValueError(
                    "is required with PostgreSQL (at least 32 random characters); an install from before "
                    "BALLOT_KEY sets it to the SECRET_KEY (or var/secret_key) it used, so that the secret "
                    "ballots cast so far stay countable"
                )
            raise ValueError(f"is required with PostgreSQL (at least 32 random characters, {NEW_KEY_HINT})")
        if info.field_name == "ballot_key":
            return value  # an older, shorter key must carry over: the ballots cast so far were sealed with it
        if len(value) < MIN_KEY_LENGTH or len(set(value)) < 8:
            raise ValueError(f"must be at least {MIN_KEY_LENGTH} random characters ({NEW_KEY_HINT})")
        return value

    def weak_ballot_key(self) -> bool:
        """Whether BALLOT_KEY is shorter or plainer than a new key would be (kept from an older install)."""
        key = self.ballot_key
        return bool(key) and (len(key) < MIN_KEY_LENGTH or len(set(key)) < 8)

    @field_validator("load_demo")
    @classmethod
    def _demo_on_sqlite_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        # LINLI_DEMO=1 with PostgreSQL is a mistake worth stopping for: the demo's public codes would
        # grant staff powers in a real database.
        if value and not is_sqlite(info.data.get("database_url", "")):
            raise ValueError(
                "the demo (public invite codes that grant staff powers) runs only on the embedded SQLite "
                "database; remove LINLI_DEMO or set it to 0 with PostgreSQL"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to SQLite under the var directory."""
        return self.database_url or f"sqlite:///{self.var_dir / 'linli.db'}"

    @property
    def files_dir(self) -> Path:
        """Where uploaded photos are kept."""
        return self.var_dir / "files"

    @property
    def proxies(self) -> list[str]:
        """The trusted proxies' addresses and networks."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def public_url(self) -> str:
        """The address residents open for the web chat."""
        return self.web_public_url.rstrip("/") or f"http://{self.web_host}:{self.web_port}"

    @property
    def embedded(self) -> bool:
        """Whether the database is SQLite (the default) rather than a PostgreSQL server."""
        return is_sqlite(self.db_url)

    def session_secret(self) -> str:
        """The key that signs web sessions: SECRET_KEY, else (SQLite) one kept in var/secret_key."""
        return self.secret_key or self.keep_keys()[0]

    def ballot_secret(self) -> str:
        """The key behind secret ballots: BALLOT_KEY, else (SQLite) one kept in var/ballot_key."""
        return self.ballot_key or self.keep_keys()[1]

    @property
    def seal_key(self) -> bytes:
        """The key that seals and encrypts secret ballots (from the ballot key; never in the database)."""
        return hmac.new(self.ballot_secret().encode(), b"linli ballot seal", hashlib.sha256).digest()

    def keep_keys(self) -> tuple[str, str]:
        """The (session, ballot) keys the settings leave to the var directory, made on first use.

        Call it before a migration can create the database: a ballot key made for a database that
        already exists continues the secret that sealed its ballots before BALLOT_KEY existed.
        """
        secret, ballot = self.secret_key, self.ballot_key
        if not ballot:
            ballot = _read_key(self.var_dir / "ballot_key")
        if not secret:
            secret = _read_key(self.var_dir / "secret_key")
        if not ballot:
            earlier = secret if self._database_exists() else ""
            ballot = _write_key(self.var_dir / "ballot_key", earlier or secrets.token_urlsafe(32))
        if not secret:
            secret = _write_key(self.var_dir / "secret_key", secrets.token_urlsafe(32))
        for name, key, given, remedy in (
            ("secret_key", secret, self.secret_key, "delete it to make a new one (this signs everyone out)"),
            ("ballot_key", ballot, self.ballot_key, "restore it from a backup"),
        ):
            if not given and len(key) < MIN_KEY_LENGTH:  # a kept file emptied or edited by hand
                raise SettingsError(
                    f"setting LINLI_VAR_DIR: {self.var_dir / name} holds fewer than {MIN_KEY_LENGTH} "
                    f"characters; {remedy}"
                )
        return secret, ballot

    def _database_exists(self) -> bool:
        from sqlalchemy.engine import make_url

        name = make_url(self.db_url).database
        return bool(name and name != ":memory:" and Path(name).exists())


def is_sqlite(database_url: str) -> bool:
    """Whether a DATABASE_URL (empty: the default) names SQLite, the embedded database."""
    return not database_url or database_url.startswith("sqlite")


def _read_key(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def _write_key(path: Path, key: str) -> str:
    """Keep a new key readable by its owner only (created 0600); the stored key if another process won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key)
    return key


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:  # a rule over several settings names them itself
            raise SettingsError(f"settings: {message}") from None
        name = first["loc"][0]
        field = Settings.model_fields.get(str(name))
        env_name = field.alias if field and field.alias else str(name).upper()
        raise SettingsError(f"setting {env_name}: {message}") from None
