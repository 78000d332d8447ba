"""/policy: the policy library by topic, one article at a time, and keyword search; open to everyone."""

from __future__ import annotations

from core import actions
from core.actions import Articles
from db.policy import MAX_QUERY, Article, Library, Topic
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Button, Inbound, Reply

FLOW_NAME = "policy"
MAX_RESULTS = 8
TOPICS, SEARCH = Articles("h"), Articles("s")


def command(ctx: Context, args: str) -> list[Reply]:
    """`/policy` lists the topics; `/policy 关键词` searches."""
    if ctx.state.flow == FLOW_NAME:
        ctx.state.clear()  # a search prompt left open would swallow the next message
    if args.strip():
        return _search(ctx, args)
    return [_topics(ctx)]


def _library(ctx: Context) -> Library | None:
    library = ctx.library
    return library if library is not None and library.articles else None


def _topic_buttons(ctx: Context, library: Library) -> list[list[Button]]:
    rows = [
        [Button.of(Articles("t", topic=n), text=f"{topic.label(ctx.locale)} ({len(topic.articles)})")]
        for n, topic in enumerate(library.topics, start=1)
    ]
    return [*rows, [Button.of(SEARCH, "policy.btn_search")]]


def _topics(ctx: Context) -> Reply:
    library = _library(ctx)
    if library is None:
        return Reply("policy.empty")
    return Reply(
        "policy.topics",
        {"topics": len(library.topics), "articles": len(library.articles)},
        _topic_buttons(ctx, library),
    )


def _topic(ctx: Context, topic: Topic) -> Reply:
    rows = [
        [Button.of(Articles("a", article=a.id), text=a.display_title(ctx.locale))] for a in topic.articles
    ]
    return Reply(
        "policy.topic",
        {
            "topic": topic.label(ctx.locale),
            "articles": [
                {"title": a.display_title(ctx.locale), "summary": a.summary} for a in topic.articles
            ],
        },
        [*rows, [Button.of(TOPICS, "policy.btn_topics"), Button.of(SEARCH, "policy.btn_search")]],
    )


def _article(ctx: Context, library: Library, article: Article) -> Reply:
    number = library.topic_number(article.topic) or 1
    topic = library.topic(number)
    return Reply(
        "policy.article",
        {
            "title": article.title,
            "title_en": article.title_en,
            "topic": topic.label(ctx.locale) if topic else article.topic,
            "body": article.body,
            "source": article.source,
        },
        [
            [
                Button.of(
                    Articles("t", topic=number),
                    "policy.btn_back",
                    args={"topic": topic.label(ctx.locale) if topic else article.topic},
                )
            ],
            [Button.of(TOPICS, "policy.btn_topics"), Button.of(SEARCH, "policy.btn_search")],
        ],
    )


def _ask_query() -> Reply:
    return Reply("policy.ask_query", {"limit": MAX_QUERY}, [[Button.of(Articles("x"), "cancel")]])


def _search(ctx: Context, query: str) -> list[Reply]:
    query = " ".join(query.split())
    if len(query) > MAX_QUERY:
        return [Reply("policy.query_too_long", {"limit": MAX_QUERY, "length": len(query)})]
    library = _library(ctx)
    if library is None:
        return [Reply("policy.empty")]
    hits = library.search(query, limit=len(library.articles))
    if not hits:
        return [
            Reply(
                "policy.no_results",
                {"query": query, "topics": [t.label(ctx.locale) for t in library.topics]},
                _topic_buttons(ctx, library),
            )
        ]
    shown = hits[:MAX_RESULTS]
    rows = [
        [Button.of(Articles("a", article=h.article.id), text=h.article.display_title(ctx.locale))]
        for h in shown
    ]
    return [
        Reply(
            "policy.results",
            {
                "query": query,
                "count": len(hits),
                "more": len(hits) - len(shown),
                "hits": [{"title": h.article.display_title(ctx.locale), "snippet": h.snippet} for h in shown],
            },
            [*rows, [Button.of(SEARCH, "policy.btn_search_again"), Button.of(TOPICS, "policy.btn_topics")]],
        )
    ]


def on_press(ctx: Context, press: Articles) -> list[Reply]:
    """Topics (`h`), a topic (`t`), an article (`a`), search (`s`), leave the search (`x`)."""
    if press.verb == "x":
        if ctx.state.flow != FLOW_NAME:
            return [stale()]
        ctx.state.clear()
        return [_topics(ctx)]
    library = _library(ctx)
    if library is None:
        return [Reply("policy.empty")]
    if press.verb == "h":
        return [_topics(ctx)]
    if press.verb == "s":
        ctx.state.go(FLOW_NAME, "search")
        return [_ask_query()]
    if press.verb == "t":
        topic = library.topic(press.topic or 0)
        return [_topic(ctx, topic)] if topic is not None else [stale()]
    article = library.get(press.article or "")
    return [_article(ctx, library, article)] if article is not None else [stale()]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Text typed after pressing 🔎: search for it; anything else asks again."""
    if ctx.state.step != "search":
        ctx.state.clear()
        return [stale()]
    query = inbound.text.strip()
    if not query:
        return [_ask_query()]
    replies = _search(ctx, query)
    if replies[0].template != "policy.query_too_long":
        ctx.state.clear()  # one search per press; the results offer another
    return replies


FLOW = Flow(FLOW_NAME, {"/policy": Command(command)}, actions.Articles, on_press, on_message)
