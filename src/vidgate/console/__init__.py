"""The web console: the playground (``/``, for anyone with an API key) and the operators'
dashboard (``/admin``, with the admin token).

Two static pages and their scripts and styles, shipped in the package (``pages/``,
``static/``), no build step and no Node.js. They call only the public API and the admin API,
from the browser, with the key or token the user typed (kept in the browser's local storage,
sent only to this server, in the ``Authorization`` header, never in a URL).

Every page carries ``<base href="{root path}/">`` and uses relative URLs, so the console works
under a path prefix (``VIDGATE_PUBLIC_URL=https://example.com/vg``, ``api.prefix``) whether the
proxy strips the prefix or not. The pages' Content Security Policy allows scripts and styles from
this server only: no inline script, no inline style, no ``eval``.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from vidgate.api.csp import policy, protect

#: where the console's scripts, styles and vendored libraries are served
ASSETS = "/console"
#: the pages' policy (``api.csp``): no inline style either; videos and images also from wherever
#: results are stored (an object store's presigned URLs), and as blobs and data URIs (previews of
#: the files a user picks)
POLICY = policy(
    style_src=["'self'"],
    img_src=["'self'", "data:", "blob:", "https:", "http:"],
    media_src=["'self'", "blob:", "https:", "http:"],
)

router = APIRouter(include_in_schema=False)


@cache
def _page(name: str) -> str:
    return files("vidgate.console").joinpath("pages", name).read_text(encoding="utf-8")


def _render(request: Request, name: str) -> HTMLResponse:
    base = escape(request.scope.get("root_path", "").rstrip("/") + "/", quote=True)
    page = HTMLResponse(_page(name).replace("{{base}}", base), headers={"Cache-Control": "no-cache"})
    protect(page, POLICY)
    return page


@router.get("/")
def playground(request: Request) -> HTMLResponse:
    return _render(request, "playground.html")


@router.get("/admin")
@router.get("/admin/")
def dashboard(request: Request) -> HTMLResponse:
    return _render(request, "admin.html")


def install(app: FastAPI) -> None:
    app.include_router(router)
    static = StaticFiles(packages=[("vidgate.console", "static")])
    app.mount(ASSETS, static, name="console")
