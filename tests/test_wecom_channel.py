"""The WeCom channel through the FastAPI app: signed, encrypted callbacks in; app messages and template cards
out to the WeCom API double over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.clock import FixedClock
from core import actions
from db.models import Grid, Identity, RoleGrant
from tests.support.wecom_app import WeCom, wecom_app


@pytest.fixture
def wecom(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeCom]:
    """The app with WeCom on, against the API double."""
    with wecom_app(sqlite_url, tmp_path, clock) as harness:
        yield harness


def test_the_url_check_answers_the_decrypted_echostr(wecom: WeCom) -> None:
    answer = wecom.server.verify("1616140317555161061")
    assert answer.status_code == 200 and answer.text == "1616140317555161061"
    assert wecom.server.verify("x", forged=True).status_code == 403


def test_a_forged_signature_is_refused_and_nothing_is_stored(wecom: WeCom) -> None:
    delivery = wecom.server.deliver(wecom.server.text("LiuWang", "你好"), forged=True)
    assert delivery.statuses == [403, 403, 403]
    assert wecom.stored() == 0 and wecom.person_of("LiuWang") is None
    assert wecom.api.calls_to("message/send") == []


def test_a_bound_member_joins_with_their_first_message(wecom: WeCom) -> None:
    wecom.bind("LiuWang")
    delivery = wecom.deliver(wecom.server.text("LiuWang", "你好"))
    assert delivery.statuses == [200] and delivery.answers == [b""]  # answered at once, empty
    [greeting] = wecom.api.everything("LiuWang")
    assert "绑定成功" in greeting and "网格员" in greeting and "英雄社区第一网格" in greeting
    person = wecom.person_of("LiuWang")
    with wecom.app.sessions() as session:
        assert session.exec(select(RoleGrant.role).where(RoleGrant.person_id == person)).all() == [
            "grid_worker"
        ]
        grid = session.exec(select(Grid).where(Grid.name == "英雄社区第一网格")).one()
        assert grid.worker_id == person
    wecom.deliver(wecom.server.text("LiuWang", "/help"))  # the invite is used: no second greeting
    assert "绑定成功" not in wecom.api.everything("LiuWang")[-1]


def test_an_unbound_member_opening_the_app_is_told_how_to_join_once(wecom: WeCom) -> None:
    wecom.deliver(wecom.server.enter_agent("ZhangSan"))
    [greeting] = wecom.api.everything("ZhangSan")
    assert "邀请码" in greeting
    wecom.deliver(wecom.server.enter_agent("ZhangSan"))
    assert len(wecom.api.everything("ZhangSan")) == 1  # opening the app again is not greeted again
    wecom.deliver(wecom.server.text("ZhangSan", "DEMO-STAFF"))
    assert "绑定成功" in wecom.api.everything("ZhangSan")[-1]


def test_someone_else_cannot_use_a_code_bound_to_a_member(wecom: WeCom) -> None:
    code = wecom.bind("LiuWang")
    wecom.deliver(wecom.server.text("Intruder", f"/start {code}"))
    assert "绑定成功" not in wecom.api.everything("Intruder")[-1]
    wecom.deliver(wecom.server.text("LiuWang", "你好"))
    assert "绑定成功" in wecom.api.everything("LiuWang")[-1]


def test_retries_of_a_callback_run_its_turn_once(wecom: WeCom) -> None:
    wecom.joined("LiuWang")
    first = wecom.deliver(wecom.server.text("LiuWang", "/help"))
    before = len(wecom.api.calls_to("message/send"))
    wecom.server.redeliver(first)  # WeCom did not see the answer in time and tries again, twice
    wecom.server.redeliver(first)
    wecom.settle()
    assert first.statuses == [200, 200, 200]
    assert len(wecom.api.calls_to("message/send")) == before
    with wecom.app.sessions() as session:
        assert session.exec(select(Identity).where(Identity.channel == "wecom")).all()


def test_the_apps_menu_is_published_at_start_and_a_tap_runs_its_command(wecom: WeCom) -> None:
    wecom.client.portal.call(wecom.channel.start)
    wecom.api.wait_for(lambda: wecom.api.menu is not None, what="the menu published")
    menu = wecom.api.menu
    assert menu is not None
    names = [b["name"] for b in menu["button"]]
    assert names == ["我的任务", "待分派", "更多"]
    keys = {s["name"]: s["key"] for s in menu["button"][2]["sub_button"]}
    assert keys["统计"] == actions.Menu(command="/stats").encode()
    wecom.joined("LiuWang")
    tasks = wecom.turn("LiuWang", wecom.server.click("LiuWang", menu["button"][0]["key"]))
    assert "任务" in tasks
    before = len(wecom.api.everything("LiuWang"))
    wecom.deliver(wecom.server.click("LiuWang", "v:ok:1"))  # a key that is no menu command
    assert len(wecom.api.everything("LiuWang")) == before
