"""What works anywhere: /cancel, /help, /lang and the language buttons."""

from __future__ import annotations

from core import actions, people
from core.actions import Language
from core.people import PeopleError
from handlers.common import allowed_actions, menu_buttons, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Button, Reply

LANGUAGES = (("zh_CN", "中文"), ("en", "English"))


def cancel(ctx: Context, _: str = "") -> list[Reply]:
    """`/cancel`: leave whatever flow the person is in."""
    had_flow = bool(ctx.state.flow)
    ctx.state.clear()
    return [Reply("common.cancelled" if had_flow else "common.nothing_to_cancel", {}, menu_buttons(ctx))]


def help_(ctx: Context, _: str = "") -> list[Reply]:
    """`/help`: one line in words per menu button this person may use, and the same buttons below it."""
    can = sorted(a.value for a in allowed_actions(ctx))
    buttons = menu_buttons(ctx)
    entries = list(dict.fromkeys(button.label for row in buttons for button in row))
    return [Reply("common.help", {"can": can, "entries": entries}, buttons)]


def lang(ctx: Context, _: str = "") -> list[Reply]:
    """`/lang`: offer 中文 and English."""
    return [
        Reply(
            "onboarding.choose_lang",
            {},
            [[Button.of(Language(locale=code), text=name) for code, name in LANGUAGES]],
        )
    ]


def set_lang(ctx: Context, press: Language) -> list[Reply]:
    """Switch the person's language."""
    try:
        people.set_language(ctx.work, ctx.person_id, press.locale)
    except PeopleError:
        return [stale()]
    ctx.person.locale = press.locale
    return [Reply("onboarding.lang_set", {}, menu_buttons(ctx))]


FLOW = Flow(
    "",
    {"/cancel": Command(cancel), "/help": Command(help_), "/lang": Command(lang)},
    actions.Language,
    set_lang,
)
