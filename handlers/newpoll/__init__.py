"""`/newpoll`: staff or the owners' committee create an owners' poll step by step (`NewPoll` presses).

The steps are declared once, in order, in `STEPS`: when the draft lacks a step's answer, what the step
asks, which presses and typed text it accepts. After every accepted answer the flow asks for the first
answer still missing: compound → scope (whole compound or chosen buildings) → title → explanation
(+ photo) → matter (Civil Code Art. 278 item 1–9) → kind (decision, or election: candidates, seats) → when
voting opens (15 days' notice, or earlier with a stated reason) → how long it lasts → secret or open
ballot → votes changeable → consultative; with nothing missing, the summary with the electorate preview,
then create (the use case announces it). The draft is checked against every rule before the summary and
again on create, and a broken rule sends the author back to the step that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core import polls as use_cases
from core.actions import NewPoll
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.newpoll import confirm
from handlers.newpoll.answers import (
    Answer,
    Go,
    PressAnswer,
    TextAnswer,
    choose_compound,
    pressed_building,
    pressed_compound,
    pressed_duration,
    pressed_kind,
    pressed_matter,
    pressed_opening,
    pressed_scope_done,
    pressed_seats,
    pressed_yes_no,
    typed_body,
    typed_candidates,
    typed_closing,
    typed_compound,
    typed_opening,
    typed_reason,
    typed_title,
)
from handlers.newpoll.asks import (
    ask_body,
    ask_buildings,
    ask_candidates,
    ask_closes,
    ask_compound,
    ask_compound_again,
    ask_kind,
    ask_matter,
    ask_opens,
    ask_reason,
    ask_seats,
    ask_short,
    ask_title,
    ask_yes_no,
    limits,
)
from handlers.newpoll.draft import NAME, PollDraft, compounds, opens_at, shortened
from handlers.types import Inbound, Reply

__all__ = ["FLOW", "resume", "start"]


@dataclass(frozen=True, slots=True)
class Step:
    """A step of the flow: when the draft lacks its answer, what it asks, and the answers it takes (a step
    with presses is answered with its buttons; typed text elsewhere gets a reminder to use them)."""

    name: str
    lacks: Callable[[Context, PollDraft], bool]
    ask: Callable[[Context, PollDraft], Reply]
    presses: Mapping[str, PressAnswer] = field(default_factory=dict)
    typed: TextAnswer | None = None
    without_text: bool = False  # its typed answer may come without text (a photo alone)


def _lacks_reason(ctx: Context, draft: PollDraft) -> bool:
    """An earlier opening (chosen, or asked for) needs its reason stated first."""
    if draft.reason:
        return False
    opening = opens_at(ctx, draft)
    return draft.short if opening is None else shortened(ctx, opening)


def _yes_no(name: str, verb: str) -> Step:
    """A question answered yes or no (secret ballot, changeable votes, consultative)."""

    def lacks(_: Context, draft: PollDraft) -> bool:
        return getattr(draft, name) is None

    return Step(name, lacks, ask_yes_no(name), {verb: pressed_yes_no(name)})


STEPS: tuple[Step, ...] = (
    Step(
        "compound",
        lambda _, d: d.node_id is None,
        ask_compound_again,
        {"c": pressed_compound},
        typed_compound,
    ),
    Step(
        "buildings",
        lambda _, d: not d.scoped,
        ask_buildings,
        {"b": pressed_building, "bd": pressed_scope_done},
    ),
    Step("title", lambda _, d: d.title is None, ask_title, typed=typed_title),
    Step("body", lambda _, d: d.body is None, ask_body, typed=typed_body, without_text=True),
    Step("matter", lambda _, d: d.matter is None, ask_matter, {"m": pressed_matter}),
    Step("kind", lambda _, d: d.kind is None, ask_kind, {"k": pressed_kind}),
    Step(
        "candidates",
        lambda _, d: d.kind == "election" and d.candidates is None,
        ask_candidates,
        typed=typed_candidates,
    ),
    Step("seats", lambda _, d: d.kind == "election" and d.seats is None, ask_seats, {"n": pressed_seats}),
    Step("reason", _lacks_reason, ask_reason, typed=typed_reason),
    Step("short", lambda _, d: d.opens is None and d.short, ask_short, {"o": pressed_opening}, typed_opening),
    Step("opens", lambda _, d: d.opens is None, ask_opens, {"o": pressed_opening}, typed_opening),
    Step("closes", lambda _, d: d.closes is None, ask_closes, {"d": pressed_duration}, typed_closing),
    *(_yes_no(name, verb) for name, verb in (("secret", "s"), ("changeable", "g"), ("consultative", "e"))),
)
BY_NAME = {step.name: step for step in STEPS}
CONFIRM = "confirm"  # the summary: its one press creates the poll
# The step that fixes each rule the poll rules can name, and the draft's answers to ask again.
FIX: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "body": ("body",),
    "matter": ("matter",),
    "kind": ("kind", "candidates", "seats"),
    "candidates": ("candidates", "seats"),
    "seats": ("seats",),
    "buildings": ("scoped", "buildings"),
    "no_homes": ("scoped", "buildings"),
    "opens_at": ("opens",),
    "reason": ("reason",),
    "window": ("closes",),
}


# The fields the summary lets the author change (`k` with the field's name at the summary: the verb that
# chooses the kind, at another step), each with the draft's answers it forgets: the flow then asks them
# again and, nothing else missing, comes back to the summary.
EDITS: dict[str, tuple[str, ...]] = {
    "scope": ("scoped", "buildings"),
    "title": ("title",),
    "body": ("body", "photo"),
    "matter": ("matter",),
    "kind": ("kind", "candidates", "seats"),
    "dates": ("short", "reason", "opens", "closes"),
    "closes": ("closes",),
    "method": ("secret", "changeable", "consultative"),
}
EDIT_VERB = "k"


def _not_allowed(ctx: Context) -> list[Reply]:
    ctx.state.clear()
    return [Reply("newpoll.not_allowed")]


def advance(ctx: Context, draft: PollDraft) -> list[Reply]:
    """Ask for the first answer the draft still lacks; with nothing missing, check it and show the summary."""
    for step in STEPS:
        if step.lacks(ctx, draft):
            return [step.ask(ctx, draft)]
    return _checked(ctx, draft, confirm.summary)


def _checked(
    ctx: Context, draft: PollDraft, finish: Callable[[Context, PollDraft], list[Reply]]
) -> list[Reply]:
    """The summary or the creation; a broken rule forgets the answer that broke it and asks it again."""
    try:
        return finish(ctx, draft)
    except use_cases.PollError as exc:
        if exc.reason not in FIX:  # node, not_allowed: the compound is no longer theirs
            return _not_allowed(ctx)
        draft.forget(*FIX[exc.reason])
        return [Reply("newpoll.rule", {"reason": exc.reason, **limits()}), *advance(ctx, draft)]


def _settle(ctx: Context, draft: PollDraft, answer: Answer) -> list[Reply]:
    """Show an answer's replies (asking what comes next when it was taken) and keep the draft."""
    replies = [*answer.before, *advance(ctx, draft)] if isinstance(answer, Go) else answer
    if ctx.state.flow == NAME:
        draft.keep(ctx.state)
    return replies


def start(ctx: Context, _: str = "") -> list[Reply]:
    """`/newpoll`: begin a poll (staff of the compound's community, street or district, admin, committee)."""
    choices = compounds(ctx)
    if not choices:
        return _not_allowed(ctx)
    ctx.state.go(NAME, "compound")
    draft = PollDraft()
    if len(choices) == 1:
        return _settle(ctx, draft, choose_compound(ctx, draft, choices[0]))
    return _settle(ctx, draft, [ask_compound(ctx, choices)])


def on_press(ctx: Context, press: NewPoll) -> list[Reply]:
    """A `NewPoll` press, checked against the flow's step and the database."""
    if ctx.state.flow != NAME:
        return [stale()]
    if press.verb == "x":
        ctx.state.clear()
        return [Reply("newpoll.cancelled")]
    if not compounds(ctx):
        return _not_allowed(ctx)
    draft = PollDraft.of(ctx.state)
    if ctx.state.step == CONFIRM:
        if press.verb == EDIT_VERB and press.kind in EDITS:
            draft.forget(*EDITS[press.kind])
            return _settle(ctx, draft, Go())
        return _settle(ctx, draft, _checked(ctx, draft, confirm.create) if press.verb == "ok" else [stale()])
    step = BY_NAME.get(ctx.state.step)
    answer = step.presses.get(press.verb) if step is not None else None
    return _settle(ctx, draft, answer(ctx, draft, press) if answer is not None else [stale()])


def resume(ctx: Context) -> list[Reply]:
    """Ask again what the draft lacks first (the summary when nothing): for coming back to a draft."""
    if ctx.state.flow != NAME:
        return [stale()]
    if not compounds(ctx):
        return _not_allowed(ctx)
    return _settle(ctx, PollDraft.of(ctx.state), Go())


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text (and a photo for the explanation) inside the /newpoll flow."""
    if not compounds(ctx):
        return _not_allowed(ctx)
    draft = PollDraft.of(ctx.state)
    text = inbound.text.strip()
    if ctx.state.step == CONFIRM:
        return _settle(ctx, draft, [Reply("newpoll.use_buttons"), *_checked(ctx, draft, confirm.summary)])
    step = BY_NAME.get(ctx.state.step)
    if step is None:
        ctx.state.clear()
        return [stale()]
    if step.typed is not None and (text or step.without_text):
        return _settle(ctx, draft, step.typed(ctx, draft, inbound, text))
    again = step.ask(ctx, draft)
    return _settle(ctx, draft, [Reply("newpoll.use_buttons"), again] if step.presses else [again])


FLOW = Flow(
    NAME,
    {"/newpoll": Command(start, leaves_flow=True)},
    NewPoll,
    on_press,
    on_text,
    resume=resume,
)
