"""The policy library: every shipped article loads, bad files are named, search ranks, dialogs browse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.settings import load_settings
from core import actions
from core.actions import Articles
from db.policy import MAX_QUERY, TOPICS, Library, load_library, normalise, parse_article
from tests.support.chat import ChatUser

GOOD = """---
title: 测试文章
topic: 维修资金
source: 《中华人民共和国民法典》第二百八十一条
---
维修资金属于业主共有。
"""


@pytest.fixture(scope="module")
def library() -> Library:
    """The library as shipped."""
    return load_library(load_settings().policy_dir)


def test_every_shipped_article_loads_with_its_fields(library: Library) -> None:
    folder = load_settings().policy_dir
    assert folder == Path(__file__).resolve().parent.parent / "data" / "policy"
    files = sorted(folder.glob("*.md"))
    assert 8 <= len(files) == len(library.articles) <= 12
    assert [t.name for t in library.topics] == [name for name, _ in TOPICS]  # every topic, fixed order
    for article in library.articles:
        assert article.title and article.title_en and article.summary and article.source
        chinese = len(re.findall(r"[\u4e00-\u9fff]", article.body))
        assert 200 <= chinese <= 600, (article.id, chinese)
        data = Articles("a", article=article.id).encode()
        assert len(data.encode()) <= 64 and actions.decode(data) == Articles("a", article=article.id)


def test_civil_code_articles_271_to_287_are_all_covered(library: Library) -> None:
    text = "".join(a.source + a.body for a in library.articles)
    folded = normalise(text)[0]
    for number in range(271, 288):
        assert f"第{number}条" in folded or f"{number - 1}条至第{number + 1}条" in folded, number


def test_the_readme_names_the_folder() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "data/policy/" in readme and "LINLI_POLICY_DIR" in readme


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("维修资金属于业主共有。", "front matter"),
        ("---\ntitle: 测试\ntopic: 维修资金\n维修资金", "not closed"),
        ("---\ntopic: 维修资金\n---\n正文", "'title:'"),
        ("---\ntitle: 测试\ntopic: 天气\n---\n正文", "unknown topic"),
        ("---\ntitle: 测试\ntopic: 维修资金\nauthor: 某人\n---\n正文", "unknown field 'author'"),
        ("---\ntitle: 测试\ntopic: 维修资金\ntitle: 又一个\n---\n正文", "twice"),
        ("---\ntitle: 测试\ntopic: 维修资金\n没有冒号\n---\n正文", "key: value"),
        ("---\ntitle: 测试\ntopic: 维修资金\norder: 第一\n---\n正文", "order"),
        ("---\ntitle: 测试\ntopic: 维修资金\n---\n\n", "no text"),
    ],
)
def test_a_malformed_file_is_rejected_with_its_name(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken-one.md").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken-one\.md") as caught:
        load_library(tmp_path)
    assert problem in str(caught.value)


def test_bad_file_names_and_encodings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"文章\.md: the file name"):
        parse_article("文章.md", GOOD)
    (tmp_path / "latin.md").write_bytes(GOOD.encode("gbk"))
    with pytest.raises(ValueError, match=r"latin\.md: not UTF-8"):
        load_library(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_library(tmp_path / "missing")


def test_a_good_file_parses_with_bom_and_quotes() -> None:
    article = parse_article("fund.md", '\ufeff---\ntitle: "测试文章"\ntopic: 维修资金\n---\n\n正文\n')
    assert (article.id, article.title, article.body, article.source) == ("fund", "测试文章", "正文", "")


def test_search_finds_the_maintenance_fund_article_first(library: Library) -> None:
    hits = library.search("维修资金")
    assert hits[0].article.topic == "维修资金"
    assert "维修资金" in hits[0].article.title
    assert {h.article.id for h in hits[:2]} == {"maintenance-fund", "fund-records"}
    assert "维修资金" in hits[0].snippet and len(hits[0].snippet) < 80


def test_a_title_hit_ranks_above_more_body_hits() -> None:
    body_heavy = parse_article(
        "a-body.md", "---\ntitle: 业主的义务\ntopic: 物业服务\n---\n" + "停车位、停车费、停车场。" * 5
    )
    in_title = parse_article("b-title.md", "---\ntitle: 停车位归谁\ntopic: 共有部分\n---\n车位的归属。")
    library = Library([body_heavy, in_title])
    hits = library.search("停车")
    assert [h.article.id for h in hits] == ["b-title", "a-body"]
    assert hits[1].occurrences > hits[0].occurrences


def test_more_occurrences_rank_higher_among_body_hits() -> None:
    few = parse_article("few.md", "---\ntitle: 甲\ntopic: 物业服务\n---\n物业费一次。")
    many = parse_article("many.md", "---\ntitle: 乙\ntopic: 物业服务\n---\n物业费，物业费，物业费。")
    assert [h.article.id for h in Library([few, many]).search("物业费")] == ["many", "few"]


def test_search_without_hits_and_with_punctuation_only(library: Library) -> None:
    assert library.search("火星殖民地") == []
    assert library.search("？？ ！") == []
    assert library.search("") == []


def test_search_folds_full_width_digits_and_chinese_article_numbers(library: Library) -> None:
    half = [h.article.id for h in library.search("278条")]
    assert "joint-decisions" in half
    assert [h.article.id for h in library.search("２７８条")] == half
    assert [h.article.id for h in library.search("第二百七十八条")] == half
    plain = [h.article.id for h in library.search("维修资金")]
    assert [h.article.id for h in library.search("维修资金？")] == plain


def test_several_terms_must_all_match(library: Library) -> None:
    hits = library.search("停车 收入")
    assert hits and all("停车" in h.article.body and "收入" in h.article.body for h in hits)


def test_snippets_point_at_the_first_hit_in_the_original_text() -> None:
    article = parse_article(
        "x.md", "---\ntitle: 甲\ntopic: 物业服务\n---\n" + "前" * 50 + "依照第二百八十六条处理" + "后" * 50
    )
    (hit,) = Library([article]).search("286")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "第二百八十六条" in hit.snippet


# ---- dialogs -------------------------------------------------------------------------------------------


def _data(user: ChatUser, label: str) -> str:
    for message in user.last:
        for row in message.buttons:
            for text, data in row:
                if label in text:
                    return data
    raise AssertionError(label)


def test_resident_browses_topics_then_an_article_and_back(owner: ChatUser) -> None:
    owner.say("/policy")
    assert "政策法规库" in owner.text
    assert owner.buttons()[0].startswith("共有部分")
    assert all(len(data.encode()) <= 64 for m in owner.last for row in m.buttons for _, data in row)
    owner.press("维修资金")
    assert "维修资金是谁的钱" in owner.text
    owner.press("维修资金是谁的钱")
    assert "第二百八十一条" in owner.text and "依据：" in owner.text and "当地规定" in owner.text
    owner.press("返回")
    assert owner.text.startswith("📂 维修资金")
    owner.press("全部主题")
    assert "政策法规库" in owner.text


def test_someone_who_has_not_joined_may_read_the_library(app: App) -> None:
    stranger = ChatUser(app.service, "visitor-1", name="路人")
    stranger.say("/policy")
    stranger.press("业主大会与业委会")
    stranger.press("票数怎么算")
    assert "三分之二以上" in stranger.text and "四分之三以上" in stranger.text and "过半数" in stranger.text
    stranger.say("/policy 维修资金")
    assert "找到" in stranger.text and "维修资金" in stranger.buttons()[0]


def test_policy_command_with_keywords_searches(owner: ChatUser) -> None:
    owner.say("/policy 业主大会")
    assert owner.text.startswith("🔎 “业主大会”")
    assert owner.buttons()[0] == "业主大会和业主委员会是什么"
    owner.press("业主大会和业主委员会是什么")
    assert "第二百八十条" in owner.text


def test_search_button_then_typed_text(owner: ChatUser) -> None:
    owner.say("/policy")
    owner.press("搜索")
    assert "关键词" in owner.text
    owner.say("物业费")
    assert "物业费的交纳和催缴" in owner.buttons()
    owner.say("你好")  # the search was answered; plain text no longer searches
    assert "找到" not in owner.text


def test_search_without_hits_suggests_topics(owner: ChatUser) -> None:
    owner.say("/policy 火星殖民地")
    assert "没有找到" in owner.text and "共有部分" in owner.text
    assert any(b.startswith("维修资金") for b in owner.buttons())


def test_a_too_long_query_gets_a_clear_reply_and_the_prompt_stays(owner: ChatUser) -> None:
    owner.say("/policy " + "业" * (MAX_QUERY + 1))
    assert "太长" in owner.text
    owner.say("/policy")
    owner.press("搜索")
    owner.say("维" * (MAX_QUERY + 5))
    assert "太长" in owner.text
    owner.say("维修资金")
    assert "找到" in owner.text


def test_cancelling_the_search_prompt(owner: ChatUser) -> None:
    owner.say("/policy")
    owner.press("搜索")
    owner.press("取消")
    assert "政策法规库" in owner.text
    owner.data(Articles("x").encode())  # the cancel button pressed again
    assert "已失效" in owner.text


@pytest.mark.parametrize("forged", ["p:a:999", "p:t:x", "p:t:0", "p:t:99", "p:a:", "p:zz", "p:h:1", "p:s:1"])
def test_forged_or_stale_buttons_get_the_stale_reply(owner: ChatUser, forged: str) -> None:
    owner.data(forged)
    assert "已失效" in owner.text


def test_english_interface_shows_english_titles(app: App) -> None:
    user = ChatUser(app.service, "visitor-en")
    user.say("/lang")
    user.press("English")
    user.say("/policy")
    assert "Policy library" in user.text and user.buttons()[0].startswith("Common parts")
    user.press("Maintenance fund")
    user.press("whose money")
    assert "The maintenance fund: whose money" in user.text and "维修资金" in user.text
    assert "Source:" in user.text


def test_help_and_menu_mention_the_library(owner: ChatUser) -> None:
    owner.say("/help")
    assert "📚 政策法规 — " in owner.text and "📚 政策法规" in owner.buttons()
    owner.say("随便说点什么")  # offered as a report; "not a report" shows the menu
    owner.press("不是报事")
    owner.press("政策法规")
    assert "政策法规库" in owner.text
