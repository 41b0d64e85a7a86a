"""The Content-Security-Policy helper (``vidgate.api.csp``): scripts from vidgate only, whatever a
page adds; a page's own directives replace the base's."""

from __future__ import annotations

import pytest
from starlette.responses import HTMLResponse

from vidgate.api.csp import DEFAULT, policy, protect


def directives(value: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in value.split(";") if part.strip()}


def test_the_base_policy_allows_scripts_and_requests_from_vidgate_only() -> None:
    base = directives(DEFAULT)
    assert base["script-src"] == ["'self'"] and base["default-src"] == ["'self'"]
    assert base["connect-src"] == ["'self'"] and base["object-src"] == ["'none'"]
    assert base["frame-ancestors"] == ["'none'"]


def test_a_page_adds_or_replaces_a_directive() -> None:
    value = directives(policy(worker_src=["'self'", "blob:"], img_src=["'self'"]))
    assert value["worker-src"] == ["'self'", "blob:"] and value["img-src"] == ["'self'"]
    assert value["script-src"] == ["'self'"]


@pytest.mark.parametrize("source", ["'unsafe-inline'", "'unsafe-eval'", "*", "data:"])
def test_no_policy_may_allow_inline_or_foreign_scripts(source: str) -> None:
    with pytest.raises(ValueError, match="scripts come from files served by vidgate"):
        policy(script_src=["'self'", source])
    with pytest.raises(ValueError):
        policy(default_src=[source])


def test_protect_sets_the_policy_and_its_companions() -> None:
    response = protect(HTMLResponse("<p>hi</p>"))
    assert response.headers["content-security-policy"] == DEFAULT
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
