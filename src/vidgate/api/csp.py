"""The Content-Security-Policy of the pages vidgate serves (``/docs``, ``/redoc`` and any other
HTML): scripts only from vidgate itself, never inline, never ``eval``; requests only to vidgate.

``policy()`` gives the header's value, with a directive added to or replaced where a page needs
it; ``protect(response)`` sets it, with the headers that go with it, on a response::

    protect(HTMLResponse(page), policy(worker_src=["'self'", "blob:"]))

Styles may be inline (``'unsafe-inline'`` in ``style-src``): Swagger UI and ReDoc set element
styles from their scripts. Scripts may not: a policy that would allow inline scripts or ``eval``
is refused with ValueError.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response

#: the directives every page gets, before a page's own
BASE: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}

#: sources no script directive may hold
_UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "data:", "*")
_SCRIPT_DIRECTIVES = ("script-src", "script-src-elem", "script-src-attr", "default-src")


def policy(**directives: Iterable[str]) -> str:
    """The header value: ``BASE`` with ``directives`` (``worker_src=[...]`` is ``worker-src``)
    replacing or adding theirs."""
    merged = dict(BASE)
    for name, sources in directives.items():
        merged[name.replace("_", "-")] = tuple(sources)
    for name in _SCRIPT_DIRECTIVES:
        unsafe = [s for s in merged.get(name, ()) if s in _UNSAFE]
        if unsafe:
            raise ValueError(f"{name} may not allow {', '.join(unsafe)}: scripts come from files served by vidgate")
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in merged.items())


#: the policy of a page that needs nothing beyond ``BASE``
DEFAULT = policy()


def protect(response: Response, value: str = DEFAULT) -> Response:
    """Set the policy ``value`` on ``response``, and tell the browser not to guess content types
    nor to send the page's address to other sites; returns ``response``."""
    response.headers["Content-Security-Policy"] = value
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
