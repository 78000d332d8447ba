"""Property-company evaluation in tests: the demo street's staff, the demo company and its clerk, a second
company, homes and owners, and a survey opened by street staff."""

from __future__ import annotations

from sqlmodel import select

from bot.bootstrap import App
from core import evaluation, notify
from core.actions import Survey
from core.work import Work
from db import companies, people
from db.models import Home, Residency
from tests.support.chat import ChatUser, person_of
from tests.support.companies import company_serving

SUNNY = "阳光物业服务有限公司"  # the demo company, serving 阳光花园
PEACE = "和平里物业管理有限公司"  # a second company, serving 和平里小区 (both under 北沟街道)
SUNNY_COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
PEACE_COMPOUND = "铁西区/北沟街道/英雄社区/和平里小区"


def street(app: App, ref: str = "street-1", name: str = "孙街道") -> ChatUser:
    """Staff of 北沟街道, who grade the companies under it."""
    user = ChatUser(app.service, ref, name=name)
    user.say("/start DEMO-STREET")
    return user


def clerk(app: App, ref: str = "property-1", name: str = "周物业") -> ChatUser:
    """A clerk of the demo company (阳光物业), which serves 阳光花园."""
    user = ChatUser(app.service, ref, name=name)
    user.say("/start DEMO-PROPERTY")
    return user


def sunny(app: App) -> int:
    """The demo company's id."""
    with app.sessions() as session:
        found = companies.by_name(session, SUNNY)
        assert found is not None and found.id is not None
        return found.id


def peace(app: App) -> int:
    """A second company, serving 和平里小区; its id."""
    return company_serving(app, PEACE, PEACE_COMPOUND)


def home_of(app: App, user: ChatUser) -> int:
    """The home a resident joined."""
    person_id = person_of(app.sessions, user)
    with app.sessions() as session:
        found = session.exec(select(Residency.home_id).where(Residency.person_id == person_id)).first()
        assert found is not None
        return found


def co_owner(app: App, home_id: int, ref: str, name: str = "王军") -> ChatUser:
    """A second owner of the same home, joined with an invite of their own."""
    with app.sessions() as session:
        assert session.get(Home, home_id) is not None
        code = people.create_invite(session, "owner", app.clock.now(), home_id=home_id).code
        session.commit()
    user = ChatUser(app.service, ref, name=name)
    user.say(f"/start {code}")
    return user


def open_survey(app: App, opener: ChatUser, company_id: int) -> int:
    """Open the current half's survey of a company as staff would (its pushes queued); its id."""
    person_id = person_of(app.sessions, opener)
    with app.sessions() as session:
        actor = people.actor(session, person_id)
        work = Work(session, app.clock.now(), app.policy)
        survey = evaluation.open_survey(work, actor, company_id)
        notify.publish(work)
        session.commit()
        assert survey.id is not None
        return survey.id


def start_button(survey_id: int, home_id: int) -> str:
    """The data of the push's 开始打分 button for a home."""
    return Survey("o", survey=survey_id, home=home_id).encode()


def compounds(app: App, street_name: str, community: str, *names: str) -> list[str]:
    """Compounds (one home each, with a building and entrance) under a street's community; their paths."""
    from db import org

    rows = "district,street,community,compound,building,entrance,home,area\n"
    rows += "".join(f"铁西区,{street_name},{community},{name},1栋,1单元,101,80\n" for name in names)
    with app.sessions() as session:
        homes, grids = org.parse_csv(rows)
        org.load_rows(session, homes, grids, app.clock.now())
        session.commit()
    return [f"铁西区/{street_name}/{community}/{name}" for name in names]


def bad_record(app: App, company_id: int, compound_path: str, points: int) -> int:
    """A bad record of a company in a compound, entered by the system with an evidence photo; its id."""
    from core.permissions import SYSTEM
    from db import org

    with app.sessions() as session:
        node = org.find_node(session, compound_path)
        assert node is not None and node.id is not None
        work = Work(session, app.clock.now(), app.policy)
        entered = evaluation.enter_record(
            work, SYSTEM, company_id, node.id, False, points, "检查发现问题", ("web", "proof.jpg")
        )
        notify.publish(work)
        session.commit()
        return entered.id
