"""The org tree: lookups under a node, and importing a real organisation from YAML or CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import ColumnElement, false, or_
from sqlmodel import Session, select

from core.permissions import path_ids
from db import companies, people
from db.models import Grid, GridBuilding, Home, OrgNode
from db.rows import id_of
from db.types import MAX_ID

LEVELS = ("district", "street", "community", "compound", "building", "entrance")
CSV_COLUMNS = (*LEVELS, "home", "area")  # and optional `grid`, `unsold`
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "是"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "否"})
MAX_NAME = 100
MAX_HOME_NUMBER = 20  # Home.number's column width
SHANGHAI = ZoneInfo("Asia/Shanghai")  # contracts run by the local calendar day
WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ImportError_(ValueError):
    """A bad org file: carries the line and the reason."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CompanyTerm:
    """The property company a compound's row names, and the contract's first and last day (None: open)."""

    name: str
    starts_on: date
    ends_on: date | None = None


@dataclass(frozen=True, slots=True)
class SeatRow:
    """A member the file names for a compound's committee: their home (`building/entrance/number` in the
    compound), their name as registered, and their post (chair, deputy or member)."""

    line: int
    home: str
    name: str
    post: str


@dataclass(frozen=True, slots=True)
class CommitteeTerm:
    """The owners' committee a compound's entry names: its term, its filing day and its members."""

    line: int
    starts_on: date
    ends_on: date
    filed_on: date | None
    seats: tuple[SeatRow, ...]


# The committee's posts as the file may write them, in Chinese or as Linli's codes.
POSTS = {
    "主任": "chair",
    "副主任": "deputy",
    "委员": "member",
    "chair": "chair",
    "deputy": "deputy",
    "member": "member",
}


@dataclass(frozen=True, slots=True)
class HomeRow:
    """One home with the names of every level above it, and where it was read."""

    line: int
    names: tuple[str, str, str, str, str, str]
    number: str
    area_centi_m2: int
    unsold: bool | None = None  # developer's unsold stock; None: not stated (an existing home keeps its flag)
    # The compound's `owner_document` (owners registering alone send a certificate photo); None: not
    # stated, so an existing compound keeps its setting.
    owner_document: bool | None = None
    company: CompanyTerm | None = None  # the compound's property company; None: not stated, nothing changes
    committee: CommitteeTerm | None = None  # the compound's owners' committee; None: not stated


@dataclass(frozen=True, slots=True)
class GridRow:
    """A grid in a community and the buildings (`compound/building`) it covers."""

    line: int
    community: tuple[str, str, str]
    name: str
    buildings: tuple[tuple[int, str], ...]
    wecom_userid: str = ""  # the grid worker's WeCom member id: their first message there joins them


def parse_area(value: object, line: int) -> int:
    """A home's area in m² (up to two decimals) as an integer count of 0.01 m²."""
    if value is None or not str(value).strip():
        raise ImportError_(line, "area is missing")
    try:
        area = Decimal(str(value).strip())
    except InvalidOperation:
        raise ImportError_(line, f"area {value!r} is not a number") from None
    if not area.is_finite() or area <= 0 or area >= 100000:
        raise ImportError_(line, f"area {value!r} must be between 0 and 100000 m²")
    centi = area * 100
    if centi != centi.to_integral_value():
        raise ImportError_(line, f"area {value!r} has more than two decimals")
    return int(centi)


def parse_flag(value: object, line: int, what: str) -> bool:
    """A yes/no cell: 1/true/yes/是 or 0/false/no/否 (any case); an empty cell is no."""
    text = "" if value is None else str(value).strip().lower()
    if not text or text in FALSE_WORDS:
        return False
    if text in TRUE_WORDS:
        return True
    raise ImportError_(line, f"{what} {str(value)[:20]!r} must be 1/true/是 or 0/false/否")


def _name(value: object, line: int, what: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ImportError_(line, f"{what} name is empty")
    limit = MAX_HOME_NUMBER if what == "home" else MAX_NAME
    if len(text) > limit or "/" in text:
        raise ImportError_(
            line, f"{what} name {text[:20]!r} is longer than {limit} characters or contains '/'"
        )
    return text


# --- YAML -----------------------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ImportError_(_line(node), f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        out[str(key.value)] = value
    return out


def _sequence(node: yaml.Node | None, what: str) -> list[yaml.Node]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ImportError_(_line(node), f"{what} must be a list")
    return list(node.value)


def _optional_flag(mapping: dict[str, yaml.Node], key: str, line: int) -> bool | None:
    """A yes/no field that may be left out (None: the setting stays as it is)."""
    node = mapping.get(key)
    return None if node is None else parse_flag(_scalar(node, line, key), _line(node), key)


def _scalar(node: yaml.Node | None, line: int, what: str) -> str:
    if node is None:
        raise ImportError_(line, f"{what} is missing")
    if not isinstance(node, yaml.ScalarNode):
        raise ImportError_(_line(node), f"{what} must be a single value")
    return str(node.value)


def parse_yaml(text: str) -> tuple[list[HomeRow], list[GridRow]]:
    """Read the nested YAML org format into rows, each remembering its line."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ImportError_(
            mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if root is None:
        raise ImportError_(1, "the file is empty")
    homes: list[HomeRow] = []
    grids: list[GridRow] = []
    top = _mapping(root, "the file")
    district = _name(_scalar(top.get("district"), _line(root), "district"), _line(root), "district")
    for street_node in _sequence(top.get("streets"), "streets"):
        street_map = _mapping(street_node, "a street")
        street = _name(
            _scalar(street_map.get("name"), _line(street_node), "street name"), _line(street_node), "street"
        )
        for comm_node in _sequence(street_map.get("communities"), "communities"):
            comm_map = _mapping(comm_node, "a community")
            line = _line(comm_node)
            community = _name(_scalar(comm_map.get("name"), line, "community name"), line, "community")
            for comp_node in _sequence(comm_map.get("compounds"), "compounds"):
                comp_map = _mapping(comp_node, "a compound")
                line = _line(comp_node)
                compound = _name(_scalar(comp_map.get("name"), line, "compound name"), line, "compound")
                owner_document = _optional_flag(comp_map, "owner_document", line)
                company = _company(comp_map.get("company"), line)
                committee = _committee(comp_map.get("committee"))
                for b_node in _sequence(comp_map.get("buildings"), "buildings"):
                    b_map = _mapping(b_node, "a building")
                    line = _line(b_node)
                    building = _name(_scalar(b_map.get("name"), line, "building name"), line, "building")
                    for e_node in _sequence(b_map.get("entrances"), "entrances"):
                        e_map = _mapping(e_node, "an entrance")
                        line = _line(e_node)
                        entrance = _name(_scalar(e_map.get("name"), line, "entrance name"), line, "entrance")
                        for h_node in _sequence(e_map.get("homes"), "homes"):
                            h_map = _mapping(h_node, "a home")
                            line = _line(h_node)
                            number = _name(_scalar(h_map.get("number"), line, "home number"), line, "home")
                            area_node = h_map.get("area")
                            area_line = _line(area_node) if area_node is not None else line
                            area = parse_area(_scalar(area_node, line, "area"), area_line)
                            unsold = _optional_flag(h_map, "unsold", line)
                            names = (district, street, community, compound, building, entrance)
                            homes.append(
                                HomeRow(line, names, number, area, unsold, owner_document, company, committee)
                            )
            for g_node in _sequence(comm_map.get("grids"), "grids"):
                g_map = _mapping(g_node, "a grid")
                line = _line(g_node)
                name = _name(_scalar(g_map.get("name"), line, "grid name"), line, "grid")
                covered = tuple(
                    (_line(b), _scalar(b, _line(b), "a grid building"))
                    for b in _sequence(g_map.get("buildings"), "grid buildings")
                )
                wecom = _wecom_userid(g_map.get("wecom_userid"), line)
                grids.append(GridRow(line, (district, street, community), name, covered, wecom))
    if not homes:
        raise ImportError_(1, "the file lists no homes")
    return homes, grids


def parse_day(value: str, line: int, what: str) -> date:
    """A day written YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ImportError_(line, f"{what} must be a day written YYYY-MM-DD, not {value!r}") from None


def _company(node: yaml.Node | None, line: int) -> CompanyTerm | None:
    """A compound's `company`: its name alone (serving from the import on), or a mapping with name, since
    and optionally until (YYYY-MM-DD)."""
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return CompanyTerm(_name(node.value, _line(node), "company"), date.min)
    found = _mapping(node, "company")
    where = _line(node)
    name = _name(_scalar(found.get("name"), where, "company name"), where, "company")
    since = parse_day(_scalar(found.get("since"), where, "company since"), where, "company since")
    until_node = found.get("until")
    until = None
    if until_node is not None:
        until = parse_day(_scalar(until_node, where, "company until"), where, "company until")
    if until is not None and until < since:
        raise ImportError_(where, f"the company's contract ends ({until}) before it starts ({since})")
    return CompanyTerm(name, since, until)


def _committee(node: yaml.Node | None) -> CommitteeTerm | None:
    """A compound's `committee`: starts, ends and optionally filed (YYYY-MM-DD), and members, each with
    home (building/entrance/number), name and post (主任, 副主任, 委员)."""
    if node is None:
        return None
    found = _mapping(node, "committee")
    where = _line(node)

    def day(key: str) -> date:
        return parse_day(_scalar(found.get(key), where, f"committee {key}"), where, f"committee {key}")

    starts, ends = day("starts"), day("ends")
    filed = day("filed") if found.get("filed") is not None else None
    seats: list[SeatRow] = []
    for m_node in _sequence(found.get("members"), "committee members"):
        m_map = _mapping(m_node, "a committee member")
        line = _line(m_node)
        home = _scalar(m_map.get("home"), line, "member home").strip()
        if not home or len(home) > MAX_NAME * 3:
            raise ImportError_(line, "a member's home is written building/entrance/number")
        name = _name(_scalar(m_map.get("name"), line, "member name"), line, "member name")
        post = _scalar(m_map.get("post"), line, "member post").strip()
        if post not in POSTS:
            raise ImportError_(line, f"post {post!r} is not one of 主任, 副主任, 委员")
        seats.append(SeatRow(line, home, name, POSTS[post]))
    if not seats:
        raise ImportError_(where, "the committee lists no members")
    return CommitteeTerm(where, starts, ends, filed, tuple(seats))


def _wecom_userid(node: yaml.Node | None, line: int) -> str:
    """A grid's optional `wecom_userid`: the member id from WeCom's directory."""
    if node is None:
        return ""
    value = _scalar(node, line, "wecom_userid").strip()
    if not WECOM_USERID.match(value):
        raise ImportError_(
            _line(node), f"wecom_userid {value[:20]!r} must be 1 to 64 letters, digits, _ . @ -"
        )
    return value


# --- CSV ------------------------------------------------------------------------------------------


def parse_csv(text: str) -> tuple[list[HomeRow], list[GridRow]]:
    """Read the flat CSV format: one home a line, with optional `grid`, `unsold` and `company` columns."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportError_(1, "the file is empty")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ImportError_(1, f"missing column(s): {', '.join(missing)}")
    homes: list[HomeRow] = []
    grid_members: dict[tuple[tuple[str, str, str], str], list[tuple[int, str]]] = {}
    grid_lines: dict[tuple[tuple[str, str, str], str], int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ImportError_(line, f"more values than the {len(header)} columns of the header")
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        district, street, community, compound, building, entrance = (
            _name(row[level], line, level) for level in LEVELS
        )
        names = (district, street, community, compound, building, entrance)
        number = _name(row["home"], line, "home")
        unsold = parse_flag(row["unsold"], line, "unsold") if "unsold" in header else None
        named = row.get("company")
        company = CompanyTerm(_name(named, line, "company"), date.min) if named else None
        homes.append(HomeRow(line, names, number, parse_area(row["area"], line), unsold, None, company))
        if row.get("grid"):
            key = ((names[0], names[1], names[2]), _name(row["grid"], line, "grid"))
            grid_lines.setdefault(key, line)
            member = (line, f"{names[3]}/{names[4]}")
            if member[1] not in {m for _, m in grid_members.get(key, [])}:
                grid_members.setdefault(key, []).append(member)
    if not homes:
        raise ImportError_(2, "the file lists no homes")
    grids = [GridRow(grid_lines[k], k[0], k[1], tuple(v)) for k, v in grid_members.items()]
    return homes, grids


# --- loading --------------------------------------------------------------------------------------


def _child(
    session: Session,
    cache: dict[tuple[int | None, str], OrgNode],
    parent: OrgNode | None,
    kind: str,
    name: str,
    line: int,
) -> OrgNode:
    key = (parent.id if parent else None, name)
    node = cache.get(key)
    if node is None:
        node = session.exec(
            select(OrgNode).where(OrgNode.parent_id == key[0], OrgNode.name == name)
        ).one_or_none()
        if node is None:
            node = OrgNode(kind=kind, name=name, parent_id=key[0])
            session.add(node)
            session.flush()
            node.path = f"{parent.path if parent else '/'}{node.id}/"
        cache[key] = node
    if node.kind != kind:
        raise ImportError_(line, f"{name!r} already exists as a {node.kind}, not a {kind}")
    return node


def load_rows(
    session: Session, homes: list[HomeRow], grids: list[GridRow], now: datetime | None = None
) -> dict[str, int]:
    """Merge rows into the tree (create what is new, update areas), with an invite bound to each grid
    worker's WeCom userid (`now` dates it); the caller commits or rolls back."""
    cache: dict[tuple[int | None, str], OrgNode] = {}
    seen: dict[tuple[int, str], int] = {}
    counts = {"homes": 0, "grids": 0}
    buildings: dict[tuple[int, str, str], OrgNode] = {}
    terms: dict[int, tuple[int, CompanyTerm]] = {}  # compound id → where its company was named, and how
    for row in homes:
        parent: OrgNode | None = None
        chain: list[OrgNode] = []
        for kind, name in zip(LEVELS, row.names, strict=True):
            parent = _child(session, cache, parent, kind, name, row.line)
            chain.append(parent)
        entrance = chain[-1]
        if row.owner_document is not None:
            chain[3].owner_document = row.owner_document
        if row.company is not None:
            terms.setdefault(id_of(chain[3]), (row.line, row.company))
        key = (id_of(entrance), row.number)
        if key in seen:
            raise ImportError_(row.line, f"home {row.number!r} is listed twice (first on line {seen[key]})")
        seen[key] = row.line
        buildings[(id_of(chain[2]), chain[3].name, chain[4].name)] = chain[4]
        home = session.exec(
            select(Home).where(Home.entrance_id == entrance.id, Home.number == row.number)
        ).one_or_none()
        if home is None:
            session.add(
                Home(
                    entrance_id=id_of(entrance),
                    building_id=id_of(chain[4]),
                    compound_id=id_of(chain[3]),
                    number=row.number,
                    area_centi_m2=row.area_centi_m2,
                    unsold=bool(row.unsold),
                )
            )
        else:
            home.area_centi_m2 = row.area_centi_m2
            if row.unsold is not None:
                home.unsold = row.unsold
        counts["homes"] += 1
    covered: dict[int, tuple[str, int]] = {}
    for grid_row in grids:
        parent = None
        for kind, name in zip(LEVELS[:3], grid_row.community, strict=True):
            parent = _child(session, cache, parent, kind, name, grid_row.line)
        assert parent is not None
        grid = session.exec(
            select(Grid).where(Grid.community_id == parent.id, Grid.name == grid_row.name)
        ).one_or_none()
        if grid is None:
            grid = Grid(community_id=id_of(parent), name=grid_row.name)
            session.add(grid)
            session.flush()
        for line, ref in grid_row.buildings:
            compound, _, building_name = ref.partition("/")
            building = buildings.get((id_of(parent), compound.strip(), building_name.strip()))
            if building is None:
                building = _existing_building(session, parent, compound.strip(), building_name.strip())
            if building is None:
                raise ImportError_(
                    line, f"grid building {ref!r} is not a compound/building of this community"
                )
            building_id = id_of(building)
            if building_id in covered and covered[building_id][0] != grid_row.name:
                other, other_line = covered[building_id]
                raise ImportError_(
                    line, f"building {ref!r} is already in grid {other!r} (line {other_line}); one grid each"
                )
            covered[building_id] = (grid_row.name, line)
            link = session.get(GridBuilding, building_id)
            if link is None:
                session.add(GridBuilding(building_id=building_id, grid_id=id_of(grid)))
            else:
                link.grid_id = id_of(grid)
        if grid_row.wecom_userid:
            people.bind_wecom_worker(session, grid, grid_row.wecom_userid, now or datetime.now(UTC))
        counts["grids"] += 1
    for compound_id, (_, term) in terms.items():
        _serve(session, compound_id, term, now or datetime.now(UTC))
    session.flush()
    return counts


def _serve(session: Session, compound_id: int, term: CompanyTerm, now: datetime) -> None:
    """Record that the named company serves the compound: a dated term as written; an undated one from
    today, ending the contract of the company it replaces the day before (importing it again changes
    nothing)."""
    company = companies.ensure(session, term.name, now)
    assert company.id is not None
    if term.starts_on != date.min:
        companies.sign(session, company.id, compound_id, term.starts_on, term.ends_on)
        return
    today = now.astimezone(SHANGHAI).date()
    current = companies.serving(session, compound_id, today)
    if current is not None and current.id == company.id:
        return
    companies.end_contracts(session, compound_id, today - timedelta(days=1))
    companies.sign(session, company.id, compound_id, today, None)


def _existing_building(session: Session, community: OrgNode, compound: str, building: str) -> OrgNode | None:
    """A building already in the database under a community, by compound and building name."""
    parent: OrgNode | None = community
    for kind, name in (("compound", compound), ("building", building)):
        if not name or parent is None:
            return None
        parent = session.exec(
            select(OrgNode).where(OrgNode.parent_id == parent.id, OrgNode.name == name)
        ).one_or_none()
        if parent is None or parent.kind != kind:
            return None
    return parent


NOT_UTF8 = "not UTF-8 text (save the file as UTF-8, e.g. 'CSV UTF-8' in Excel)"
NOT_TEXT = "not a text file (give the YAML or CSV organisation file)"


def read_org_text(path: Path) -> str:
    """The file as UTF-8 text; a file in another encoding (GBK from Excel) is an ImportError_."""
    return org_text(path.read_bytes())


def org_text(data: bytes) -> str:
    """An org file's bytes as UTF-8 text; another encoding (GBK from Excel) or a binary file (a
    spreadsheet, a photo) is an ImportError_ on the line where it shows."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportError_(line, NOT_UTF8) from None
    if "\x00" in text:
        raise ImportError_(text[: text.index("\x00")].count("\n") + 1, NOT_TEXT)
    return text


def parse_org(text: str, file_name: str) -> tuple[list[HomeRow], list[GridRow]]:
    """Rows of an org file: CSV when its name ends in .csv, else the YAML tree."""
    return parse_csv(text) if file_name.lower().endswith(".csv") else parse_yaml(text)


def names_of(session: Session, path: str) -> tuple[str, ...]:
    """The names of the nodes on a materialised path, from the district down."""
    names: list[str] = []
    for node_id in path_ids(path):
        node = session.get(OrgNode, node_id)
        if node is None:
            return ()
        names.append(node.name)
    return tuple(names)


def outside(homes: list[HomeRow], grids: list[GridRow], within: list[tuple[str, ...]]) -> ImportError_ | None:
    """The first row (by line) that lies under none of the `within` name chains (`("铁西区", "北沟街道")`:
    that street and all under it), as the error to report; None when every row lies inside."""
    chains = [c for c in within if c]
    bad: list[tuple[int, tuple[str, ...]]] = [
        (row.line, row.names) for row in homes if not any(row.names[: len(c)] == c for c in chains)
    ]
    bad += [
        (row.line, row.community)
        for row in grids
        if not any(len(c) <= 3 and row.community[: len(c)] == c for c in chains)
    ]
    if not bad:
        return None
    line, names = min(bad)
    allowed = "; ".join("/".join(c) for c in chains) or "nothing"
    return ImportError_(line, f"{'/'.join(names[:3])} is outside your jurisdiction ({allowed})")


def import_org_file(session: Session, path: Path, now: datetime | None = None) -> dict[str, int]:
    """Parse a YAML or CSV org file and merge it; on a bad file raise ImportError_ and change nothing."""
    homes, grids = parse_org(read_org_text(path), path.name)
    return load_all(session, homes, grids, now)


def load_all(
    session: Session, homes: list[HomeRow], grids: list[GridRow], now: datetime | None = None
) -> dict[str, int]:
    """Merge parsed rows all or nothing: on an ImportError_ nothing of them stays."""
    savepoint = session.begin_nested()
    try:
        counts = load_rows(session, homes, grids, now)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return counts


def find_node(session: Session, path: str) -> OrgNode | None:
    """A node by its names joined with '/', from the district down (e.g. `铁西区/北沟街道`)."""
    parent_id: int | None = None
    node: OrgNode | None = None
    for name in [p.strip() for p in path.strip("/").split("/") if p.strip()]:
        node = session.exec(
            select(OrgNode).where(OrgNode.parent_id == parent_id, OrgNode.name == name)
        ).one_or_none()
        if node is None:
            return None
        parent_id = node.id
    return node


def find_home(session: Session, path: str) -> Home | None:
    """A home by `district/…/entrance/number`, or by its numeric id."""
    if path.strip().isascii() and path.strip().isdigit():
        number = int(path)
        return session.get(Home, number) if 0 < number <= MAX_ID else None
    head, _, home_number = path.strip().rstrip("/").rpartition("/")
    entrance = find_node(session, head)
    if entrance is None or entrance.kind != "entrance":
        return None
    return session.exec(
        select(Home).where(Home.entrance_id == entrance.id, Home.number == home_number)
    ).one_or_none()


def children(session: Session, parent_id: int | None, kind: str | None = None) -> list[OrgNode]:
    """The direct children of a node, by name."""
    query = select(OrgNode).where(OrgNode.parent_id == parent_id)
    if kind:
        query = query.where(OrgNode.kind == kind)
    return list(session.exec(query.order_by(OrgNode.name)).all())


def homes_in(session: Session, entrance_id: int) -> list[Home]:
    """The homes of an entrance, by number."""
    return list(session.exec(select(Home).where(Home.entrance_id == entrance_id).order_by(Home.number)).all())


def in_subtrees(path_column: Any, paths: Iterable[str]) -> ColumnElement[bool]:
    """SQL: the node path in `path_column` lies under one of `paths` (permissions.under, as a query)."""
    return or_(false(), *[path_column.startswith(p) for p in paths if p])
