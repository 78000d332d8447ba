"""The 红黑榜: the best and the worst companies of a street chosen from the ranking, published by street
staff as a notice of kind "rating" to the residents under the street, and refused to anyone else."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlmodel import select

from bot.bootstrap import App
from core import rating_board
from core.permissions import SYSTEM
from core.rating_board import Placed, choose
from core.work import Work
from db import notices, org, people
from db.models import AuditEntry, Notice
from tests.support.chat import ChatUser, person_of
from tests.support.companies import company_serving
from tests.support.rating import SUNNY, SUNNY_COMPOUND, bad_record, clerk, compounds, street, sunny


def ranked(n: int) -> list[Placed]:
    return [Placed(i, i, f"企业{i}", "A", Fraction(100 - i)) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("n", "red", "black"),
    [
        (0, [], []),
        (1, [1], []),
        (2, [1], [2]),
        (3, [1, 2], [3]),
        (5, [1, 2, 3], [5, 4]),
        (9, [1, 2, 3], [9, 8, 7]),
    ],
)
def test_the_top_and_the_bottom_never_overlap(n: int, red: list[int], black: list[int]) -> None:
    top, bottom = choose(ranked(n))
    assert [p.rank for p in top] == red
    assert [p.rank for p in bottom] == black  # the black list reads worst first


def seven_companies(app: App) -> list[tuple[str, int]]:
    """Seven companies under 北沟街道 with 0..6 points of bad records, and one under another street."""
    paths = [SUNNY_COMPOUND, *compounds(app, "北沟街道", "幸福社区", *(f"幸福{i}区" for i in range(1, 7)))]
    made = [(SUNNY, sunny(app))]
    made += [(f"物业{i}", company_serving(app, f"物业{i}", paths[i])) for i in range(1, 7)]
    for points, ((_, company_id), path) in enumerate(zip(made, paths, strict=True)):
        if points:
            bad_record(app, company_id, path, points)
    (elsewhere,) = compounds(app, "南岭街道", "南岭社区", "南岭家园")
    company_serving(app, "外街道物业", elsewhere)
    return made


def test_street_staff_publish_the_board_to_the_residents_under_the_street(
    app: App, owner: ChatUser, neighbour: ChatUser
) -> None:
    made = seven_companies(app)
    grader = street(app)
    grader.say("/rating")
    grader.press("发布红黑榜")
    preview = grader.text
    assert "红榜" in preview and "黑榜" in preview and "外街道物业" not in preview
    red, black = preview.split("🔴")[1].split("⚫")[0], preview.split("⚫")[1]
    assert all(name in red for name, _ in made[:3]) and not any(name in red for name, _ in made[3:])
    assert all(name in black for name, _ in made[4:]) and made[3][0] not in black
    grader.press("发布")
    assert "红黑榜已发布" in grader.text
    grader.data(rating_board_press("bok"))  # pressed twice: published once
    assert "已失效" in grader.text

    resident_id, grader_id = person_of(app.sessions, owner), person_of(app.sessions, grader)
    with app.sessions() as session:
        notice = session.exec(select(Notice).where(Notice.kind == "rating")).one()
        street_node = org.find_node(session, "铁西区/北沟街道")
        assert street_node is not None and notice.node_id == street_node.id
        assert sorted(notice.roles) == ["owners", "tenants"]
        expected = notices.audience(session, notice.node_id, [], ["owners", "tenants"])
        assert notice.audience_size == len(expected) > 0
        assert resident_id in expected and grader_id not in expected
        assert "北沟街道" in notice.title and "红黑榜" in notice.title
        assert SUNNY in notice.body and "物业6" in notice.body and "外街道物业" not in notice.body
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "rating.publish")).one()
        assert entry.subject_id == notice.id and entry.actor_role == "street_staff"
    neighbour.say("/notices")
    assert "红黑榜" in neighbour.text


def rating_board_press(verb: str) -> str:
    from core.actions import Rating

    return Rating(verb).encode()


@pytest.mark.parametrize("who", ["community", "property", "resident"])
def test_only_street_and_district_staff_may_publish(
    app: App, staff: ChatUser, owner: ChatUser, who: str
) -> None:
    sunny(app)
    user = {"community": staff, "property": clerk(app), "resident": owner}[who]
    person_id = person_of(app.sessions, user)
    with app.sessions() as session:
        actor = people.actor(session, person_id)
        work = Work(session, app.clock.now(), app.policy)
        with pytest.raises(rating_board.BoardError) as refused:
            rating_board.publish_board(work, actor, "2026H2")
        assert refused.value.reason == "not_allowed"
    user.data(rating_board_press("b"))
    assert "红榜" not in user.text
    with app.sessions() as session:
        assert session.exec(select(Notice).where(Notice.kind == "rating")).all() == []


def test_the_system_has_no_street_to_publish_to(app: App) -> None:
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        with pytest.raises(rating_board.BoardError):
            rating_board.board(work, SYSTEM, "2026H2")
