"""/policy: the policy library by topic, one article at a time, and keyword search; open to everyone."""

from __future__ import annotations

from db.policy import MAX_QUERY, Article, Library, Topic
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "policy"
MAX_RESULTS = 8


def command(ctx: Context, args: str) -> list[Reply]:
    """`/policy` lists the topics; `/policy 关键词` searches."""
    if ctx.state.flow == FLOW:
        ctx.state.clear()  # a search prompt left open would swallow the next message
    if args.strip():
        return _search(ctx, args)
    return [_topics(ctx)]


def _library(ctx: Context) -> Library | None:
    library = ctx.library
    return library if library is not None and library.articles else None


def _topic_buttons(ctx: Context, library: Library) -> list[list[Button]]:
    rows = [
        [Button(f"p:t:{n}", text=f"{topic.label(ctx.locale)} ({len(topic.articles)})")]
        for n, topic in enumerate(library.topics, start=1)
    ]
    return [*rows, [Button("p:s", "policy.btn_search")]]


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
    rows = [[Button(f"p:a:{a.id}", text=a.display_title(ctx.locale))] for a in topic.articles]
    return Reply(
        "policy.topic",
        {
            "topic": topic.label(ctx.locale),
            "articles": [
                {"title": a.display_title(ctx.locale), "summary": a.summary} for a in topic.articles
            ],
        },
        [*rows, [Button("p:h", "policy.btn_topics"), Button("p:s", "policy.btn_search")]],
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
                Button(
                    f"p:t:{number}",
                    "policy.btn_back",
                    args={"topic": topic.label(ctx.locale) if topic else article.topic},
                )
            ],
            [Button("p:h", "policy.btn_topics"), Button("p:s", "policy.btn_search")],
        ],
    )


def _ask_query() -> Reply:
    return Reply("policy.ask_query", {"limit": MAX_QUERY}, [[Button("p:x", "cancel")]])


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
    rows = [[Button(f"p:a:{h.article.id}", text=h.article.display_title(ctx.locale))] for h in shown]
    return [
        Reply(
            "policy.results",
            {
                "query": query,
                "count": len(hits),
                "more": len(hits) - len(shown),
                "hits": [{"title": h.article.display_title(ctx.locale), "snippet": h.snippet} for h in shown],
            },
            [*rows, [Button("p:s", "policy.btn_search_again"), Button("p:h", "policy.btn_topics")]],
        )
    ]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """`p:h` topics, `p:t:<n>` a topic, `p:a:<id>` an article, `p:s` search, `p:x` leave the search."""
    action, _, arg = data[2:].partition(":")
    if action == "x" and not arg:
        if ctx.state.flow != FLOW:
            return [stale()]
        ctx.state.clear()
        return [_topics(ctx)]
    library = _library(ctx)
    if library is None:
        return [Reply("policy.empty")]
    if action == "h" and not arg:
        return [_topics(ctx)]
    if action == "s" and not arg:
        ctx.state.go(FLOW, "search")
        return [_ask_query()]
    if action == "t":
        number = parse_id(arg)
        topic = library.topic(number) if number is not None else None
        return [_topic(ctx, topic)] if topic is not None else [stale()]
    if action == "a":
        article = library.get(arg)
        return [_article(ctx, library, article)] if article is not None else [stale()]
    return [stale()]


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
