"""The policy library: plain-language articles read from Markdown files, indexed once, searched in memory.

Each file under the library folder is `<id>.md`: front matter between `---` lines (`title`, `topic`,
optional `title_en`, `summary`, `source`, `order`) and a plain-text body. Search matches substrings (Chinese
has no spaces) after normalising both sides: full-width letters and digits become half-width (NFKC),
letters lower case, whitespace is ignored, and article numbers in Chinese numerals (第二百七十八条) also
match in Arabic digits (第278条).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# The topics in display order, with their English names; an article names its topic in Chinese.
TOPICS: tuple[tuple[str, str], ...] = (
    ("共有部分", "Common parts"),
    ("业主大会与业委会", "Owners' assembly and committee"),
    ("维修资金", "Maintenance fund"),
    ("物业服务", "Property services"),
    ("成立业主委员会", "Forming an owners' committee"),
    ("物业收费与收支公示", "Fees and accounts disclosure"),
)
FIELDS = ("title", "title_en", "topic", "summary", "source", "order")
REQUIRED = ("title", "topic")
ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # the file name; goes into button data
MAX_TITLE = 40
MAX_SUMMARY = 200
MAX_QUERY = 100  # characters a search may have
SNIPPET_BEFORE = 18
SNIPPET_AFTER = 42
_PUNCTUATION = " \t\r\n,.;:!?'\"()[]<>，。、；：！？“”‘’（）《》【】「」…—-"
_CN_ARTICLE = re.compile(r"第([零〇一二两三四五六七八九十百千]{1,8})条")
_CN_DIGITS = {char: n for n, char in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True, slots=True)
class Article:
    """One article of the library."""

    id: str
    title: str
    topic: str
    body: str
    title_en: str = ""
    summary: str = ""
    source: str = ""
    order: int = 0

    def display_title(self, locale: str) -> str:
        """The title to show in a locale: the English one when there is one, else the Chinese."""
        return self.title_en if locale == "en" and self.title_en else self.title


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic with its articles in order."""

    name: str
    name_en: str
    articles: tuple[Article, ...]

    def label(self, locale: str) -> str:
        """The topic's name in a locale."""
        return self.name_en if locale == "en" else self.name


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the article, how many query terms its title holds, all occurrences, a snippet."""

    article: Article
    title_terms: int
    occurrences: int
    snippet: str


@dataclass(frozen=True, slots=True)
class _Indexed:
    article: Article
    title: str  # normalised title and English title
    text: str  # normalised summary, body and source
    origin: tuple[int, ...]  # for each character of `text`, its position in `raw`
    raw: str


class Library:
    """All articles, grouped by topic in the fixed order, with a search index built once."""

    def __init__(self, articles: list[Article]) -> None:
        rank = {name: n for n, (name, _) in enumerate(TOPICS)}
        ordered = sorted(articles, key=lambda a: (rank[a.topic], a.order, a.id))
        self.articles: tuple[Article, ...] = tuple(ordered)
        self.by_id = {a.id: a for a in ordered}
        self.topics: tuple[Topic, ...] = tuple(
            Topic(name, name_en, tuple(a for a in ordered if a.topic == name))
            for name, name_en in TOPICS
            if any(a.topic == name for a in ordered)
        )
        self._index = tuple(_index(a) for a in ordered)

    def get(self, article_id: str) -> Article | None:
        """The article with this id, or None."""
        return self.by_id.get(article_id)

    def topic(self, number: int) -> Topic | None:
        """The topic at a 1-based position among the topics that have articles, or None."""
        return self.topics[number - 1] if 1 <= number <= len(self.topics) else None

    def topic_number(self, name: str) -> int | None:
        """The 1-based position of a topic by its Chinese name, or None."""
        for n, topic in enumerate(self.topics, start=1):
            if topic.name == name:
                return n
        return None

    def search(self, query: str, limit: int = 8) -> list[Hit]:
        """Articles holding every term of the query, title hits first, then by number of occurrences."""
        return search(self._index, query, limit)


def normalise(text: str) -> tuple[str, tuple[int, ...]]:
    """Text folded for matching, and for each of its characters the position it came from."""
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for found in _CN_ARTICLE.finditer(text):
        _fold(text, position, found.start(), out, origin)
        number = _cn_number(found.group(1))
        if number is None:
            _fold(text, found.start(), found.end(), out, origin)
        else:
            folded = f"第{number}条"
            out.append(folded)
            origin.extend([found.start()] * len(folded))
        position = found.end()
    _fold(text, position, len(text), out, origin)
    return "".join(out), tuple(origin)


def _fold(text: str, start: int, end: int, out: list[str], origin: list[int]) -> None:
    for i in range(start, end):
        char = text[i]
        if char.isspace():
            continue
        folded = unicodedata.normalize("NFKC", char).lower()
        folded = "".join(c for c in folded if not c.isspace())
        out.append(folded)
        origin.extend([i] * len(folded))


def _cn_number(numeral: str) -> int | None:
    """二百七十八 -> 278, 十 -> 10, 二百零一 -> 201; None when it is not a well-formed numeral."""
    total = digit = 0
    for char in numeral:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        else:
            unit = _CN_UNITS[char]
            total += (digit or (1 if unit == 10 else 0)) * unit
            if digit == 0 and unit != 10:
                return None
            digit = 0
    return total + digit


def query_terms(query: str) -> list[str]:
    """The normalised search terms of a query: split at spaces, stripped of punctuation, deduplicated."""
    terms: list[str] = []
    for word in query.split():
        term = normalise(word.strip(_PUNCTUATION))[0].strip(_PUNCTUATION)
        if term and term not in terms:
            terms.append(term)
    return terms


def _index(article: Article) -> _Indexed:
    raw = "\n".join(part for part in (article.summary, article.body, article.source) if part)
    text, origin = normalise(raw)
    title = normalise(article.title)[0] + "\n" + normalise(article.title_en)[0]
    return _Indexed(article, title, text, origin, raw)


def search(index: tuple[_Indexed, ...], query: str, limit: int = 8) -> list[Hit]:
    """Rank indexed articles for a query; an empty or punctuation-only query finds nothing."""
    terms = query_terms(query)
    if not terms:
        return []
    hits: list[Hit] = []
    for entry in index:
        if not all(term in entry.title or term in entry.text for term in terms):
            continue
        title_terms = sum(1 for term in terms if term in entry.title)
        occurrences = sum(entry.title.count(term) + entry.text.count(term) for term in terms)
        hits.append(Hit(entry.article, title_terms, occurrences, _snippet(entry, terms)))
    hits.sort(key=lambda h: (-h.title_terms, -h.occurrences))  # stable: library order breaks ties
    return hits[:limit]


def _snippet(entry: _Indexed, terms: list[str]) -> str:
    """A short piece of the text around the first hit (the summary when only the title matched)."""
    found = [at for at in (entry.text.find(term) for term in terms) if at >= 0]
    if not found:
        return entry.article.summary or _squeeze(entry.article.body[: SNIPPET_BEFORE + SNIPPET_AFTER]) + "…"
    at = entry.origin[min(found)]
    line_start = entry.raw.rfind("\n", 0, at) + 1  # stay within the line (paragraph) of the hit
    line_end = entry.raw.find("\n", at)
    line_end = len(entry.raw) if line_end < 0 else line_end
    start = max(line_start, at - SNIPPET_BEFORE)
    end = min(line_end, at + SNIPPET_AFTER)
    piece = _squeeze(entry.raw[start:end])
    return ("…" if start > line_start else "") + piece + ("…" if end < line_end else "")


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def parse_article(name: str, text: str) -> Article:
    """Read one article from its file name and text; a problem raises ValueError naming the file."""
    article_id = name.removesuffix(".md")
    if not ARTICLE_ID.match(article_id):
        raise ValueError(f"{name}: the file name must be 1-32 lower-case letters, digits or '-' before .md")
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{name}: must begin with front matter: a line '---', 'key: value' lines, '---'")
    try:
        end = next(n for n in range(1, len(lines)) if lines[n].strip() == "---")
    except StopIteration:
        raise ValueError(f"{name}: the front matter is not closed with a line '---'") from None
    fields: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key:
            raise ValueError(f"{name}: line {number}: expected 'key: value'")
        if key not in FIELDS:
            raise ValueError(f"{name}: line {number}: unknown field {key!r} (known: {', '.join(FIELDS)})")
        if key in fields:
            raise ValueError(f"{name}: line {number}: {key!r} appears twice")
        fields[key] = _unquote(value.strip())
    for key in REQUIRED:
        if not fields.get(key):
            raise ValueError(f"{name}: the front matter needs '{key}:'")
    topics = [t for t, _ in TOPICS]
    if fields["topic"] not in topics:
        raise ValueError(f"{name}: unknown topic {fields['topic']!r} (one of: {'、'.join(topics)})")
    if len(fields["title"]) > MAX_TITLE or len(fields.get("title_en", "")) > 2 * MAX_TITLE:
        raise ValueError(f"{name}: the title is longer than {MAX_TITLE} characters")
    if len(fields.get("summary", "")) > MAX_SUMMARY:
        raise ValueError(f"{name}: the summary is longer than {MAX_SUMMARY} characters")
    order = fields.get("order", "0")
    if not order.isdigit() or len(order) > 6:
        raise ValueError(f"{name}: order must be a whole number, not {order!r}")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ValueError(f"{name}: the article has no text after the front matter")
    return Article(
        id=article_id,
        title=fields["title"],
        topic=fields["topic"],
        body=body,
        title_en=fields.get("title_en", ""),
        summary=fields.get("summary", ""),
        source=fields.get("source", ""),
        order=int(order),
    )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def load_library(folder: Path) -> Library:
    """Read and check every `*.md` file in the folder; a bad file raises ValueError naming it."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: the policy library folder does not exist")
    articles: list[Article] = []
    for path in sorted(folder.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
        try:
            articles.append(parse_article(path.name, text))
        except ValueError as exc:
            raise ValueError(f"{folder}/{exc}") from None
    return Library(articles)
