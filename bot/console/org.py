"""组织: upload an organisation file (the YAML tree or the CSV `linli import-org` takes) for the part of the
tree one answers for; all or nothing, with the CLI's line-exact errors, audited as `org.import`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from bot import demo
from bot.console.desk import Desk, Kit, Refused, require
from core.org_import import import_org
from core.permissions import Action, grants_for
from db.org import CSV_COLUMNS, ImportError_, names_of

MAX_FILE = 4 * 1024 * 1024  # the web app refuses a bigger body for this path before it is read
CSV_SAMPLE = (
    ",".join((*CSV_COLUMNS, "grid", "unsold"))
    + "\n铁西区,北沟街道,英雄社区,阳光花园,1栋,1单元,101,76.80,英雄社区第一网格,0"
    + "\n铁西区,北沟街道,英雄社区,阳光花园,1栋,1单元,102,143.20,英雄社区第一网格,0\n"
)
YAML_SAMPLE = """district: 铁西区
streets:
  - name: 北沟街道
    communities:
      - name: 英雄社区
        compounds:
          - name: 阳光花园
            owner_document: false
            buildings:
              - name: 1栋
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 76.80}
                      - {number: "102", area: 143.20, unsold: true}
        grids:
          - name: 英雄社区第一网格
            buildings: [阳光花园/1栋]
"""


def routes(kit: Kit) -> APIRouter:
    """GET /console/org (the form and the formats) and POST /console/org (the upload)."""
    router = APIRouter()

    def show(request: Request, desk: Desk, status: int = 200, **result: object) -> HTMLResponse:
        where = [g.path for g in grants_for(desk.actor, Action.IMPORT_ORG)]
        with kit.sessions() as session:
            scopes = ["/".join(names_of(session, path)) for path in where]
        context: dict[str, object] = {
            "error": None,
            "line": 0,
            "reason": "",
            "file_name": "",
            "imported": None,
            "retired": 0,
        }
        context.update(result)
        return kit.page(
            request,
            desk,
            "org.html",
            status=status,
            scopes=scopes,
            csv_sample=CSV_SAMPLE,
            yaml_sample=YAML_SAMPLE,
            **context,
        )

    @router.get("/console/org", include_in_schema=False)
    def form(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.IMPORT_ORG)
        return show(request, desk)

    @router.post("/console/org", include_in_schema=False)
    async def upload(
        request: Request,
        desk: Desk = Depends(kit.posting),
        file: UploadFile | None = File(None),
    ) -> HTMLResponse:
        require(desk, Action.IMPORT_ORG)
        if file is None or not file.filename:
            return show(request, desk, 400, error="no_file")
        name = file.filename[-200:]
        data = await file.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            return show(request, desk, 413, error="too_big", file_name=name)
        try:
            with kit.work() as work:
                imported = import_org(work, desk.actor, name, data)
                # As `linli import-org`: a real organisation ends the demo's public codes.
                retired = 0 if demo.only_demo_org(work.session) else demo.retire(work.session)
        except ImportError_ as bad:
            return show(
                request, desk, 400, error="bad_file", line=bad.line, reason=bad.reason, file_name=name
            )
        except PermissionError:
            raise Refused(403, "not_allowed") from None
        return show(request, desk, imported=imported, retired=retired, file_name=name)

    return router
