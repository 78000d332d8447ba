"""Turns Replies into text in the person's language, from Jinja2 templates (zh_CN and en)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from db.categories import Catalog
from handlers.types import Rendered, Reply

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALES = ("zh_CN", "en")


class Renderer:
    """Renders message blocks (`flow.block`) and button labels for a locale."""

    def __init__(
        self,
        zone: ZoneInfo,
        default_locale: str = "zh_CN",
        root: Path = TEMPLATES,
        catalog: Catalog | None = None,
    ) -> None:
        self.zone = zone
        self.catalog = catalog
        self.default_locale = default_locale
        self.env = Environment(
            loader=FileSystemLoader(root),
            autoescape=False,  # chat text is plain; the web page shows it with textContent
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["localtime"] = self._localtime
        self.env.globals["category_name"] = self._category_name
        self.pages = Environment(
            loader=FileSystemLoader(root / "web"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )
        self._template = lru_cache(maxsize=64)(self._load)
        self._label = lru_cache(maxsize=1024)(self._fixed_label)

    def _fixed_label(self, locale: str, key: str) -> str:
        # A button label without arguments is the same text every time: rendered once per locale.
        return self.text(locale, key)

    def _load(self, locale: str, flow: str) -> Template:
        return self.env.get_template(f"{locale}/{flow}.j2")

    def _localtime(self, value: datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(self.zone).strftime(fmt)

    def _category_name(self, key: str, locale: str) -> str:
        category = self.catalog.get(key) if self.catalog else None
        return category.name(locale) if category else key

    def text(self, locale: str, key: str, context: dict[str, Any] | None = None) -> str:
        """Render one message block, e.g. `report.ask_category`, in the given locale."""
        if locale not in LOCALES:
            locale = self.default_locale
        flow, _, block = key.partition(".")
        template = self._template(locale, flow)
        render = template.blocks.get(block)
        if render is None:
            raise KeyError(f"no block {block!r} in {locale}/{flow}.j2")
        return "".join(render(template.new_context(dict(context or {})))).strip()

    def render(self, reply: Reply, locale: str) -> Rendered:
        """Render a whole reply: its text and every button label."""
        rows = tuple(
            tuple(
                (button.text or self._label_text(locale, _label_key(button.label), button.args), button.data)
                for button in row
            )
            for row in reply.buttons
        )
        return Rendered(
            text=self.text(locale, reply.template, reply.context),
            buttons=rows,
            photos=tuple(reply.photos),
            ask_location=reply.ask_location,
            location_label=self._label(locale, "buttons.share_location") if reply.ask_location else "",
            redacted=self.text(locale, reply.kept or "common.secret_redacted", reply.context)
            if reply.secret
            else "",
            topic=reply.template,
            primary=next((b.data for row in reply.buttons for b in row if b.primary), ""),
            ask_contact=reply.ask_contact,
            contact_label=self._label(locale, "buttons.share_contact") if reply.ask_contact else "",
            keeps_input=reply.keeps_input,
        )

    def _label_text(self, locale: str, key: str, args: dict[str, Any]) -> str:
        return self.text(locale, key, args) if args else self._label(locale, key)

    def page(self, name: str, **context: Any) -> str:
        """Render a web page template with HTML autoescaping."""
        return self.pages.get_template(name).render(**context)


def _label_key(label: str) -> str:
    """A button label key: `flow.block`, or a block of buttons.j2 when no flow is named."""
    return label if "." in label else f"buttons.{label}"
