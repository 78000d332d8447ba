"""`linli import-org`: good YAML and CSV files merge into the org tree; a bad file changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.bootstrap import App
from db.models import Grid, GridBuilding, Home, OrgNode
from db.org import ImportError_, find_home, find_node, import_org_file

DATA = Path(__file__).parent / "data"
YOUTH = "沈河区/五里河街道/青年社区"
CAITA = "沈河区/五里河街道/彩塔社区"
DEMO_101 = "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/101"  # 76.80 m² in the demo org


def snapshot(app: App) -> dict[str, list[Any]]:
    """Every row the import touches, so a comparison shows any change at all."""
    with app.sessions() as session:
        return {
            "nodes": [
                (n.id, n.kind, n.name, n.parent_id, n.path)
                for n in session.exec(select(OrgNode).order_by(col(OrgNode.id)))
            ],
            "homes": [
                (h.id, h.entrance_id, h.number, h.area_centi_m2, h.unsold)
                for h in session.exec(select(Home).order_by(col(Home.id)))
            ],
            "grids": [
                (g.id, g.community_id, g.name) for g in session.exec(select(Grid).order_by(col(Grid.id)))
            ],
            "links": [
                (link.building_id, link.grid_id)
                for link in session.exec(select(GridBuilding).order_by(col(GridBuilding.building_id)))
            ],
        }


def load(app: App, path: Path) -> dict[str, int]:
    """Import a file and commit, as the CLI does."""
    with app.sessions() as session:
        counts = import_org_file(session, path)
        session.commit()
    return counts


def area(session: Session, path: str) -> int:
    """A home's area in 0.01 m², by its full path."""
    home = find_home(session, path)
    assert home is not None, f"no home {path}"
    return home.area_centi_m2


def grid_of_buildings(session: Session, community: str) -> dict[str, str]:
    """`compound/building` → grid name, for every covered building of a community."""
    rows = session.exec(
        select(OrgNode, Grid)
        .join(GridBuilding, col(GridBuilding.building_id) == col(OrgNode.id))
        .join(Grid, col(Grid.id) == col(GridBuilding.grid_id))
    ).all()
    out: dict[str, str] = {}
    for building, grid in rows:
        compound = session.get(OrgNode, building.parent_id)
        assert compound is not None
        if building.path.startswith(_node_path(session, community)):
            out[f"{compound.name}/{building.name}"] = grid.name
    return out


def _node_path(session: Session, names: str) -> str:
    node = find_node(session, names)
    assert node is not None, f"no node {names}"
    return node.path


def test_yaml_loads_homes_with_exact_areas_and_grids(any_app: App) -> None:
    counts = load(any_app, DATA / "org_good.yaml")
    assert counts == {"homes": 5, "grids": 2}
    with any_app.sessions() as session:
        assert area(session, f"{YOUTH}/青年公寓/1号楼/1单元/101") == 8950
        assert area(session, f"{YOUTH}/青年公寓/1号楼/1单元/102") == 12000
        assert area(session, f"{YOUTH}/青年公寓/1号楼/1单元/201") == 6545
        assert area(session, f"{YOUTH}/青年公寓/2号楼/1单元/101") == 1
        assert area(session, f"{YOUTH}/幸福里/A座/1单元/0101") == 14320  # quoted area, number keeps its 0
        assert grid_of_buildings(session, YOUTH) == {
            "青年公寓/1号楼": "青年第一网格",
            "青年公寓/2号楼": "青年第一网格",
            "幸福里/A座": "青年第二网格",
        }
        kinds = [n.kind for n in session.exec(select(OrgNode).where(OrgNode.name == "青年社区"))]
        assert kinds == ["community"]


def test_csv_loads_homes_and_grids_from_the_grid_column(any_app: App) -> None:
    counts = load(any_app, DATA / "org_good.csv")
    assert counts == {"homes": 5, "grids": 2}
    with any_app.sessions() as session:
        assert area(session, f"{CAITA}/彩塔花园/1栋/1单元/101") == 8950
        assert area(session, f"{CAITA}/彩塔花园/1栋/1单元/102") == 7680
        assert area(session, f"{CAITA}/彩塔花园/1栋/2单元/101") == 10000
        assert area(session, f"{CAITA}/彩塔花园/3栋/1单元/101") == 5800
        # 3栋 has an empty grid cell: it belongs to no grid.
        assert grid_of_buildings(session, CAITA) == {
            "彩塔花园/1栋": "彩塔第一网格",
            "彩塔花园/2栋": "彩塔第二网格",
        }


def test_reimport_merges_without_duplicates_and_updates_areas(any_app: App, tmp_path: Path) -> None:
    load(any_app, DATA / "org_good.yaml")
    first = snapshot(any_app)
    load(any_app, DATA / "org_good.yaml")
    assert snapshot(any_app) == first

    changed = tmp_path / "org.yaml"
    text = (DATA / "org_good.yaml").read_text(encoding="utf-8")
    text = text.replace('{number: "101", area: 89.5}', '{number: "101", area: 90.25}')
    text = text.replace(
        '{number: "102", area: 120}',
        '{number: "102", area: 120}\n' + " " * 22 + '- {number: "301", area: 70}',
    )
    changed.write_text(text, encoding="utf-8")
    assert load(any_app, changed) == {"homes": 6, "grids": 2}

    after = snapshot(any_app)
    assert after["nodes"] == first["nodes"] and after["grids"] == first["grids"]
    assert after["links"] == first["links"]
    assert len(after["homes"]) == len(first["homes"]) + 1
    with any_app.sessions() as session:
        home = find_home(session, f"{YOUTH}/青年公寓/1号楼/1单元/101")
        assert home is not None and home.area_centi_m2 == 9025
        assert (home.id, home.entrance_id, "101", 8950, False) in first["homes"]  # the same row, updated
        assert area(session, f"{YOUTH}/青年公寓/1号楼/1单元/301") == 7000


# A valid start that would change the demo org (home 101's area, a new home 999) before the bad part.
YAML_HEAD = """\
district: 铁西区
streets:
  - name: 北沟街道
    communities:
      - name: 英雄社区
        compounds:
          - name: 阳光花园
            buildings:
              - name: 1栋
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 1.00}
                      - {number: "999", area: 50}
"""
HOME = " " * 22 + "- "
CSV_HEAD = "district,street,community,compound,building,entrance,home,area,grid\n"
ROW = "铁西区,北沟街道,英雄社区,阳光花园,1栋,1单元,"  # a row of the demo org up to the home number
CSV_OK = f"{ROW}101,1.00,\n{ROW}999,50,\n"

# name → (suffix, file content, line, words the reason must contain)
BAD_FILES: dict[str, tuple[str, str | bytes, int, str]] = {
    "invalid YAML syntax": (".yaml", YAML_HEAD + " " * 20 + "oops: a: b\n", 15, "not valid YAML"),
    "missing area": (".yaml", YAML_HEAD + HOME + '{number: "998"}\n', 15, "area is missing"),
    "area on its own line": (
        ".yaml",
        YAML_HEAD + HOME + 'number: "998"\n' + " " * 24 + "area: 12.345\n",
        16,
        "more than two decimals",
    ),
    "area with 3 decimals": (
        ".yaml",
        YAML_HEAD + HOME + '{number: "998", area: 89.505}\n',
        15,
        "two decimals",
    ),
    "negative area": (".yaml", YAML_HEAD + HOME + '{number: "998", area: -5}\n', 15, "between 0"),
    "zero area": (".yaml", YAML_HEAD + HOME + '{number: "998", area: 0}\n', 15, "between 0"),
    "area not a number": (".yaml", YAML_HEAD + HOME + '{number: "998", area: 八十}\n', 15, "not a number"),
    "duplicate home": (
        ".yaml",
        YAML_HEAD + HOME + '{number: "101", area: 2}\n',
        15,
        "listed twice (first on line 13)",
    ),
    "home number too long": (
        ".yaml",
        YAML_HEAD + HOME + '{number: "' + "1" * 21 + '", area: 2}\n',
        15,
        "longer than 20",
    ),
    "grid names an unknown building": (
        ".yaml",
        YAML_HEAD
        + "        grids:\n"
        + "          - name: 英雄社区第一网格\n"
        + "            buildings: [阳光花园/1栋, 阳光花园/9栋]\n",
        17,
        "阳光花园/9栋",
    ),
    "empty YAML": (".yaml", "", 1, "empty"),
    "YAML with only comments": (".yaml", "# nothing yet\n", 1, "empty"),
    "CSV missing a column": (
        ".csv",
        CSV_HEAD.replace(",area", "") + f"{ROW}101,\n",
        1,
        "missing column(s): area",
    ),
    "CSV area with 3 decimals": (
        ".csv",
        CSV_HEAD + CSV_OK + f"{ROW}998,1.001,\n",
        4,
        "two decimals",
    ),
    "CSV empty area": (
        ".csv",
        CSV_HEAD + CSV_OK + f"{ROW}998,,\n",
        4,
        "area is missing",
    ),
    "CSV duplicate home": (
        ".csv",
        CSV_HEAD + CSV_OK + f"{ROW}101,3,\n",
        4,
        "listed twice (first on line 2)",
    ),
    "CSV building in two grids": (
        ".csv",
        CSV_HEAD + f"{ROW}101,1,甲网格\n{ROW}102,1,乙网格\n",
        3,
        "already in grid '甲网格'",
    ),
    "CSV row with too many values": (
        ".csv",
        CSV_HEAD + CSV_OK + f"{ROW}998,1,,extra\n",
        4,
        "more values",
    ),
    "unsold not a yes/no": (
        ".yaml",
        YAML_HEAD + HOME + '{number: "998", area: 2, unsold: maybe}\n',
        15,
        "unsold 'maybe' must be 1/true/是",
    ),
    "CSV unsold not a yes/no": (
        ".csv",
        CSV_HEAD.replace("grid", "grid,unsold") + f"{ROW}101,1.00,,1\n{ROW}999,50,,未售\n",
        3,
        "unsold '未售' must be",
    ),
    "CSV not UTF-8 (GBK from Excel)": (".csv", (CSV_HEAD + CSV_OK).encode("gbk"), 2, "not UTF-8"),
    "empty CSV": (".csv", "", 1, "empty"),
    "CSV header only": (".csv", CSV_HEAD, 2, "no homes"),
}


def test_bad_files_are_refused_with_line_and_reason_and_change_nothing(
    any_app: App, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    before = snapshot(any_app)
    for name, (suffix, content, line, reason) in BAD_FILES.items():
        with subtests.test(msg=name):
            before_this = snapshot(any_app)
            path = tmp_path / f"bad{suffix}"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            with any_app.sessions() as session:
                with pytest.raises(ImportError_) as info:
                    import_org_file(session, path)
                session.commit()  # whatever the import left behind would be saved now: nothing may be
            assert (info.value.line, reason in info.value.reason) == (line, True), info.value
            assert snapshot(any_app) == before_this
    assert snapshot(any_app) == before
    with any_app.sessions() as session:
        assert area(session, DEMO_101) == 7680


def test_a_good_file_after_a_bad_one_still_loads(any_app: App) -> None:
    with any_app.sessions() as session, pytest.raises(ImportError_):
        import_org_file(session, DATA / "org_bad.yaml")
    assert load(any_app, DATA / "org_good.yaml") == {"homes": 5, "grids": 2}


def unsold_homes(session: Session, compound: str) -> set[str]:
    """`building/entrance/number` of the homes marked as the developer's unsold stock in a compound."""
    node = find_node(session, compound)
    assert node is not None, f"no compound {compound}"
    found = set()
    for home in session.exec(select(Home).where(Home.compound_id == node.id, col(Home.unsold))):
        building, entrance = session.get(OrgNode, home.building_id), session.get(OrgNode, home.entrance_id)
        assert building is not None and entrance is not None
        found.add(f"{building.name}/{entrance.name}/{home.number}")
    return found


def test_yaml_unsold_marks_the_developers_homes(any_app: App, tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    text = (DATA / "org_good.yaml").read_text(encoding="utf-8")
    text = text.replace('{number: "102", area: 120}', '{number: "102", area: 120, unsold: true}')
    text = text.replace('{number: "0101", area: "143.20"}', '{number: "0101", area: "143.20", unsold: 是}')
    text = text.replace('{number: "101", area: 0.01}', '{number: "101", area: 0.01, unsold: false}')
    path.write_text(text, encoding="utf-8")
    assert load(any_app, path) == {"homes": 5, "grids": 2}
    with any_app.sessions() as session:
        assert unsold_homes(session, f"{YOUTH}/青年公寓") == {"1号楼/1单元/102"}
        assert unsold_homes(session, f"{YOUTH}/幸福里") == {"A座/1单元/0101"}

    # Sold later: an explicit `unsold: false` clears the flag; a file that does not say keeps it.
    path.write_text(text.replace("unsold: true", "unsold: false"), encoding="utf-8")
    load(any_app, path)
    load(any_app, DATA / "org_good.yaml")
    with any_app.sessions() as session:
        assert unsold_homes(session, f"{YOUTH}/青年公寓") == set()
        assert unsold_homes(session, f"{YOUTH}/幸福里") == {"A座/1单元/0101"}


def test_csv_unsold_column_is_optional(any_app: App, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    rows = (DATA / "org_good.csv").read_text(encoding="utf-8").splitlines()
    flags = ["unsold", "1", "true", "是", "", "0"]  # header, then one per home
    path.write_text(
        "\n".join(f"{row},{flag}" for row, flag in zip(rows, flags, strict=True)) + "\n", encoding="utf-8"
    )
    assert load(any_app, path) == {"homes": 5, "grids": 2}
    with any_app.sessions() as session:
        assert unsold_homes(session, f"{CAITA}/彩塔花园") == {
            "1栋/1单元/101",
            "1栋/1单元/102",
            "1栋/2单元/101",
        }
        assert area(session, f"{CAITA}/彩塔花园/1栋/1单元/101") == 8950

    load(any_app, DATA / "org_good.csv")  # no unsold column: the flags stay as they were
    with any_app.sessions() as session:
        assert unsold_homes(session, f"{CAITA}/彩塔花园") == {
            "1栋/1单元/101",
            "1栋/1单元/102",
            "1栋/2单元/101",
        }
    path.write_text(
        "\n".join(
            f"{row},{flag}" for row, flag in zip(rows, ["unsold", "", "FALSE", "否", "", ""], strict=True)
        )
        + "\n",
        encoding="utf-8",
    )
    load(any_app, path)
    with any_app.sessions() as session:
        assert unsold_homes(session, f"{CAITA}/彩塔花园") == set()
