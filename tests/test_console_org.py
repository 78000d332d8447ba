"""The console's 组织: uploading an organisation file with the CLI's all-or-nothing, line-exact errors,
only inside the uploader's jurisdiction, audited."""

from __future__ import annotations

from sqlmodel import select

from bot.bootstrap import App
from db import org
from db.models import AuditEntry
from tests.support.chat import ChatUser
from tests.support.console import Desk, sign_in
from tests.test_console_residents import grant
from tests.test_org_import import snapshot

HEADER = "district,street,community,compound,building,entrance,home,area,grid\n"
OURS = "铁西区,北沟街道,新华社区,新华小区,{b},1单元,{h},{a},新华第一网格\n"


def street_desk(app: App) -> Desk:
    """Street staff of 铁西区/北沟街道 at the console, granted by a real invite (a real organisation's
    import takes back what the public demo codes gave, as `linli import-org` does)."""
    user = ChatUser(app.service, "street-1", name="街道李")
    grant(app, user, "street_staff", "铁西区/北沟街道")
    return sign_in(app, user)


def street_path(app: App) -> str:
    with app.sessions() as session:
        node = org.find_node(session, "铁西区/北沟街道")
        assert node is not None
        return node.path


def upload(desk: Desk, name: str, data: bytes, kind: str = "text/csv") -> str:
    response = desk.post("/console/org", files={"file": (name, data, kind)})
    assert response.status_code in (200, 400), response.text
    return response.text


def good_csv() -> bytes:
    rows = [OURS.format(b="1栋", h="101", a="80"), OURS.format(b="1栋", h="102", a="90.5")]
    return (HEADER + "".join(rows)).encode()


def test_a_good_file_imports_with_a_summary_and_is_audited(app: App) -> None:
    desk = street_desk(app)
    form = desk.get("/console/org").text
    assert "district,street,community" in form and "铁西区/北沟街道" in form
    page = upload(desk, "xinhua.csv", good_csv())
    assert "导入成功" in page and "新增 2 户" in page and "xinhua.csv" in page
    assert "演示模式已关闭" in page  # as the CLI: a real organisation ends the public demo codes
    with app.sessions() as session:
        assert org.find_home(session, "铁西区/北沟街道/新华社区/新华小区/1栋/1单元/102") is not None
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "org.import")).all()
    assert entry.via == "console" and entry.actor_role == "street_staff"
    assert (entry.after["homes_added"], entry.after["grids_added"]) == (2, 1)
    assert entry.after["file"] == "xinhua.csv" and entry.node_path == street_path(app)
    again = upload(desk, "xinhua.csv", good_csv())  # the same file again adds nothing
    assert "新增 0 户" in again


def test_a_yaml_file_imports_too(app: App) -> None:
    yaml_text = (
        "district: 铁西区\nstreets:\n  - name: 北沟街道\n    communities:\n      - name: 新华社区\n"
        "        compounds:\n          - name: 新华小区\n            buildings:\n              - name: 1栋\n"
        "                entrances:\n                  - name: 1单元\n                    homes:\n"
        '                      - {number: "101", area: 80}\n'
    )
    page = upload(street_desk(app), "org.yaml", yaml_text.encode(), "application/x-yaml")
    assert "导入成功" in page and "新增 1 户" in page


def test_a_bad_area_on_line_3_names_the_line_and_imports_nothing(app: App) -> None:
    desk = street_desk(app)
    before = snapshot(app)
    bad = HEADER + OURS.format(b="1栋", h="101", a="80") + OURS.format(b="1栋", h="102", a="九十")
    page = upload(desk, "bad.csv", bad.encode())
    assert "第 3 行：" in page and "is not a number" in page and "什么也没有导入" in page
    assert snapshot(app) == before
    with app.sessions() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "org.import")).all() == []


def test_a_row_outside_the_uploaders_street_is_refused_and_nothing_is_imported(app: App) -> None:
    desk = street_desk(app)
    before = snapshot(app)
    foreign = (
        HEADER
        + OURS.format(b="1栋", h="101", a="80")
        + "沈河区,五里河街道,彩塔社区,彩塔花园,1栋,1单元,101,89.5,\n"
    )
    page = upload(desk, "mixed.csv", foreign.encode())
    assert "第 3 行：" in page and "outside your jurisdiction" in page
    assert snapshot(app) == before
    same_district = upload(
        desk, "x.csv", (HEADER + "铁西区,兴华街道,甲社区,甲小区,1栋,1单元,101,80,\n").encode()
    )
    assert "第 2 行：" in same_district and "outside your jurisdiction" in same_district
    assert snapshot(app) == before


def test_community_staff_may_not_import(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    assert desk.get("/console/org").status_code == 403
    before = snapshot(app)
    refused = desk.post("/console/org", files={"file": ("x.csv", good_csv(), "text/csv")})
    assert refused.status_code == 403 and snapshot(app) == before
    assert "/console/org" not in desk.get("/console").text  # not in the navigation either


def test_the_file_name_and_bad_values_are_escaped(app: App) -> None:
    desk = street_desk(app)
    evil = "<img src=x onerror=alert(1)>.csv"
    page = upload(desk, evil, (HEADER + OURS.format(b="<script>alert(2)</script>", h="101", a="x")).encode())
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.csv" in page
    assert "<script>alert(2)" not in page
    done = upload(desk, evil, good_csv())
    assert "<img src=x" not in done and "&lt;img src=x" in done


def test_other_encodings_and_binary_files_get_a_clear_message(app: App) -> None:
    desk = street_desk(app)
    before = snapshot(app)
    gbk = (HEADER + OURS.format(b="1栋", h="101", a="80")).encode("gbk")
    page = upload(desk, "excel.csv", gbk)
    assert "第 2 行：" in page and "UTF-8" in page and "CSV UTF-8" in page
    png = upload(desk, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "not UTF-8 text" in png or "not a text file" in png
    nul = upload(desk, "nul.csv", HEADER.encode() + b"\x00\x00")
    assert "第 2 行：" in nul and "not a text file" in nul
    assert snapshot(app) == before
    no_file = desk.post("/console/org", data={})
    assert no_file.status_code == 400 and "请选择要上传的文件" in no_file.text


def test_both_languages_render(app: App) -> None:
    desk = street_desk(app)
    assert "上传组织文件" in desk.get("/console/org").text
    desk.post("/console/lang", {"locale": "en"})
    english = desk.get("/console/org")
    assert "Upload an organisation file" in english.text
    bad = upload(desk, "bad.csv", (HEADER + OURS.format(b="1栋", h="101", a="x")).encode())
    assert "line 2: " in bad and "Nothing was imported" in bad
    ok = upload(desk, "good.csv", good_csv())
    assert "Imported:" in ok and "2 of them new" in ok
