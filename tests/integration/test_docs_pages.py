"""/docs and /redoc as a browser gets them, and the OpenAPI document they show: a real server over
loopback (no workers), reached directly and through a reverse proxy that serves it under /vg
(``VIDGATE_PUBLIC_URL`` names the proxy's address).

The pages must work offline and under a Content-Security-Policy without inline scripts: every
script and stylesheet comes from vidgate itself, by a URL relative to the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.conftest import make_settings
from tests.prefix_proxy import prefix_proxy
from tests.server import Running, free_port, running_server
from vidgate.api.docs import STATIC
from vidgate.catalog import MODELS

ADMIN_TOKEN = "admin-" + "d" * 32
PAGES = ("/docs", "/redoc")
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@dataclass
class Deployment:
    server: Running
    public: str  # the proxy's address with its prefix: what VIDGATE_PUBLIC_URL says


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    port = free_port()
    public = f"http://127.0.0.1:{port}/vg"
    settings = make_settings(tmp_path_factory.mktemp("docs"), workers=False, admin_token=ADMIN_TOKEN, public_url=public)
    with running_server(settings) as server, prefix_proxy(server.url, "/vg", port):
        yield Deployment(server, public)


@pytest.fixture(scope="module")
def doc(deployment: Deployment) -> dict[str, object]:
    answer = httpx.get(f"{deployment.server.url}/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


class Page(HTMLParser):
    """The scripts and stylesheets a page loads, and any script written into the page itself."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        handlers = [name for name in named if name.startswith("on")]
        assert not handlers, f"inline event handler on <{tag}>: {handlers}"
        if tag == "script":
            self._in_script = True
            assert named.get("src"), "a <script> without src is an inline script"
            self.assets.append(str(named["src"]))
        elif tag == "link" and named.get("href"):
            self.assets.append(str(named["href"]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    assert page.assets and not page.inline
    return page


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = [p.split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("path", PAGES)
def test_the_page_loads_only_its_own_assets_under_a_strict_policy(deployment: Deployment, path: str) -> None:
    base = deployment.server.url
    answer = httpx.get(base + path)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = parse(answer.text)
    for asset in page.assets:
        assert not urlsplit(asset).scheme and not asset.startswith(("/", "//")), asset  # relative: same origin
        served = httpx.get(urljoin(base + path, asset))
        suffix = asset[asset.rfind(".") :]
        assert served.status_code == 200, asset
        assert served.headers["content-type"].startswith(ASSET_TYPES[suffix]), (asset, served.headers)
        assert served.content == (STATIC / asset.rsplit("/", 1)[1]).read_bytes()  # the packaged file
    policy = csp_directives(answer.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert policy["default-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_init_scripts_find_the_document_relative_to_the_page(deployment: Deployment) -> None:
    for script in ("swagger-init.js", "redoc-init.js"):
        text = httpx.get(f"{deployment.server.url}/docs/assets/{script}").text
        assert 'new URL(".", window.location.href)' in text and '"/openapi.json"' not in text
        assert "http://" not in text and "https://" not in text


@pytest.mark.parametrize("path", PAGES)
def test_behind_a_path_prefix_the_page_and_its_assets_load_under_the_prefix(deployment: Deployment, path: str) -> None:
    url = deployment.public + path  # http://127.0.0.1:<proxy>/vg/docs
    answer = httpx.get(url)
    assert answer.status_code == 200
    for asset in parse(answer.text).assets:
        resolved = urljoin(url, asset)
        assert resolved.startswith(deployment.public + "/"), resolved
        assert httpx.get(resolved).status_code == 200, resolved
    document = httpx.get(urljoin(url, "openapi.json"))  # what the init scripts load
    assert document.status_code == 200
    assert document.json()["servers"] == [{"url": deployment.public, "description": "VIDGATE_PUBLIC_URL"}]
    assert httpx.get(urljoin(url, "healthz")).json() == {"status": "ok"}  # the API under the prefix


@pytest.mark.parametrize("path", PAGES)
def test_a_trailing_slash_leads_back_to_the_page_under_the_prefix(deployment: Deployment, path: str) -> None:
    answer = httpx.get(deployment.public + path + "/", follow_redirects=True)
    assert answer.status_code == 200 and str(answer.url) == deployment.public + path
    assert answer.history and answer.history[0].status_code == 308


def test_assets_are_counted_under_one_route_template(deployment: Deployment) -> None:
    httpx.get(f"{deployment.server.url}/docs/assets/swagger-init.js")
    metrics = httpx.get(f"{deployment.server.url}/metrics").text
    assert 'route="/docs/assets/{path}",status="200"' in metrics
    assert "swagger-init.js" not in metrics  # never a label per file


def test_unknown_asset_is_a_404_in_the_envelope(deployment: Deployment) -> None:
    answer = httpx.get(f"{deployment.server.url}/docs/assets/nothing.js")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_every_operation_declares_its_bearer_scheme(doc: dict[str, object]) -> None:
    schemes = doc["components"]["securitySchemes"]  # type: ignore[index]
    for name in ("apiKey", "adminToken", "metricsToken"):
        assert schemes[name]["type"] == "http" and schemes[name]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():  # type: ignore[attr-defined]
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                assert operation["security"] == [{"apiKey": []}], (method, path)
            elif path.startswith("/admin/"):
                assert operation["security"] == [{"adminToken": []}], (method, path)
            elif path == "/metrics":
                assert operation["security"] == [{}, {"metricsToken": []}]  # a token only when one is set
            else:  # health and the signed downloads
                assert "security" not in operation, (method, path)


def test_every_operation_documents_the_errors_it_answers_in_the_envelope(doc: dict[str, object]) -> None:
    assert '"422"' not in json.dumps(doc)  # never answered: a request that does not validate is 400
    paths = doc["paths"]
    expected = {
        ("/v1/videos/generations", "post"): {"400", "401", "402", "409", "413", "429", "503"},
        ("/v1/tasks/{task_id}", "get"): {"401", "404", "429", "503"},
        ("/v1/tasks/{task_id}/cancel", "post"): {"401", "404", "409", "429", "503"},
        ("/v1/tasks/{task_id}/events", "get"): {"401", "404", "429", "503"},
        ("/v1/tasks", "get"): {"400", "401", "404", "429", "503"},
        ("/v1/models/{model_id}", "get"): {"401", "404", "429", "503"},
        ("/v1/account", "get"): {"401", "429", "503"},
        ("/v1/webhooks", "post"): {"400", "401", "429", "503"},
        ("/admin/v1/accounts", "post"): {"400", "401", "403", "404", "503"},  # 403: an account's key
        ("/admin/v1/accounts/{account_id}/adjust", "post"): {"400", "401", "403", "404", "409", "503"},
        ("/admin/v1/ledger/verify", "get"): {"401", "403", "404", "503"},
        ("/files/{key}", "get"): {"403", "410", "416", "503"},
        ("/metrics", "get"): {"401"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]  # type: ignore[index]
        errors = {code for code in responses if code[0] in "45"}
        assert errors == codes, (method, path, errors)
        for code in errors:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def test_each_model_has_its_allowed_values_defaults_and_an_example(doc: dict[str, object]) -> None:
    schemas = doc["components"]["schemas"]  # type: ignore[index]
    examples = [e for schema in schemas.values() for e in schema.get("examples", []) if "model" in e]
    assert sorted(e["model"] for e in examples) == sorted(MODELS)  # one each
    v26 = schemas["KlingV26Request"]["properties"]
    assert v26["mode"]["enum"] == ["std", "pro"] and v26["mode"]["default"] == "std"
    assert v26["duration"]["enum"] == [5, 10] and v26["duration"]["default"] == 5
    assert schemas["KlingV3Request"]["properties"]["mode"]["enum"] == ["std", "pro", "4k"]
    motion = schemas["MotionControlRequest"]["properties"]
    assert motion["character_orientation"]["enum"] == ["image", "video"]
    assert motion["keep_original_sound"] == {**motion["keep_original_sound"], "enum": ["yes", "no"], "default": "yes"}
    body = doc["paths"]["/v1/videos/generations"]["post"]["requestBody"]["content"]["application/json"]  # type: ignore[index]
    assert sorted(body["examples"]) == sorted(MODELS)
    assert all(example["value"]["model"] == model for model, example in body["examples"].items())


def test_the_documented_example_is_accepted_as_it_is(deployment: Deployment, doc: dict[str, object]) -> None:
    _, key = deployment.server.new_account("100")
    body = doc["paths"]["/v1/videos/generations"]["post"]["requestBody"]["content"]["application/json"]  # type: ignore[index]
    with deployment.server.client(key) as client:
        for model in ("kling-v2-6", "Omni-Flash-Ext"):  # text to video: nothing to fetch
            answer = client.post("/v1/videos/generations", json=body["examples"][model]["value"])
            assert answer.status_code == 200, answer.text
