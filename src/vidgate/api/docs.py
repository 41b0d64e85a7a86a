"""/docs (Swagger UI) and /redoc (ReDoc): the OpenAPI document to read and try, offline.

Both are served by vidgate from files in the package (``static/docs``, see its README), not from
a CDN: a page with no internet access still works. Each page is a small HTML file with no inline
script, loading the library and a separate init script from ``docs/assets/``, under a
Content-Security-Policy that allows scripts from vidgate only (``api.csp``).

Every URL in the pages is relative to the page, so that behind a reverse proxy that serves
vidgate under a path prefix (``VIDGATE_PUBLIC_URL=https://example.com/vg``, the proxy stripping
``/vg``) ``https://example.com/vg/docs`` loads ``/vg/docs/assets/...`` and ``/vg/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from vidgate.api.csp import policy, protect

#: the vendored files and vidgate's init scripts
STATIC = Path(__file__).with_name("static") / "docs"
#: where they are served; the pages refer to them relative to themselves
ASSETS_PATH = "/docs/assets"
_ASSETS = ASSETS_PATH.lstrip("/")

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
{head}</head>
<body>
<div id="{root}"></div>
<script src="{assets}/{library}"></script>
<script src="{assets}/{init}"></script>
</body>
</html>
"""

SWAGGER_PAGE = _PAGE.format(
    title="vidgate API - Swagger UI",
    assets=_ASSETS,
    head=f'<link rel="stylesheet" href="{_ASSETS}/swagger-ui.css">\n',
    root="swagger-ui",
    library="swagger-ui-bundle.js",
    init="swagger-init.js",
)
REDOC_PAGE = _PAGE.format(
    title="vidgate API - ReDoc",
    assets=_ASSETS,
    head="",
    root="redoc",
    library="redoc.standalone.js",
    init="redoc-init.js",
)

#: Swagger UI needs nothing beyond the base policy
SWAGGER_POLICY = policy()
#: ReDoc runs its search index in a worker made from a blob
REDOC_POLICY = policy(worker_src=["'self'", "blob:"])


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return _page(SWAGGER_PAGE, SWAGGER_POLICY)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return _page(REDOC_PAGE, REDOC_POLICY)


@router.get("/docs/")
@router.get("/redoc/")
async def without_slash(request: Request) -> RedirectResponse:
    """To the page without the slash, by a relative Location (``../docs`` from ``/docs/``): the
    redirect Starlette would make names the address vidgate sees, which behind a proxy that strips
    a path prefix lacks the prefix."""
    name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    return RedirectResponse(f"../{name}", status_code=308)


def _page(html: str, csp: str) -> HTMLResponse:
    response = HTMLResponse(html)
    response.headers["Cache-Control"] = "no-cache"
    protect(response, csp)
    return response


def install_assets(app: FastAPI) -> None:
    """The pages' files (``router`` serves the pages; ``app`` is made with FastAPI's own turned off)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="docs-assets")
