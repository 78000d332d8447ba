"""Settings from the environment and `.env`; a bad value stops the start with one clear line."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    # How long a dispatcher leases outbox rows: a crashed one's rows are sent again after this.
    outbox_lease_seconds: float = Field(default=60.0, ge=2, le=3600, alias="LINLI_OUTBOX_LEASE")
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8080, ge=1, le=65535, alias="WEB_PORT")
    web_public_url: str = Field(default="", alias="WEB_PUBLIC_URL")
    secret_key: str = Field(default="", alias="SECRET_KEY")
    default_locale: str = Field(default="zh_CN", alias="DEFAULT_LOCALE")
    time_zone: str = Field(default="Asia/Shanghai", alias="TIME_ZONE")
    load_demo: bool = Field(default=True, alias="LINLI_DEMO")
    categories_file: Path = Field(default=PROJECT_ROOT / "data" / "categories.yaml", alias="LINLI_CATEGORIES")
    sla_policy_file: Path = Field(default=PROJECT_ROOT / "data" / "sla_policy.yaml", alias="LINLI_SLA_POLICY")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0, alias="LINLI_MAX_UPLOAD_BYTES")
    policy_dir: Path = Field(default=PROJECT_ROOT / "data" / "policy", alias="LINLI_POLICY_DIR")

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
    def public_url(self) -> str:
        """The address residents open for the web chat."""
        return self.web_public_url.rstrip("/") or f"http://{self.web_host}:{self.web_port}"

    def session_secret(self) -> str:
        """The key that signs web sessions: SECRET_KEY, else one kept in the var directory."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        return key

    @property
    def seal_key(self) -> bytes:
        """The key that lets a changeable secret ballot be found again (derived; never in the database)."""
        return hmac.new(self.session_secret().encode(), b"linli ballot seal", hashlib.sha256).digest()


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = first["loc"][0] if first["loc"] else "?"
        field = Settings.model_fields.get(str(name))
        env_name = field.alias if field and field.alias else str(name).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"setting {env_name}: {message}") from None
