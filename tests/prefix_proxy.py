"""A reverse proxy that serves a vidgate server under a path prefix, as a deployment with
``VIDGATE_PUBLIC_URL=https://example.com/vg`` does: ``/vg/x`` is forwarded as ``/x`` (the prefix
stripped), anything outside the prefix is 404 from the proxy itself. Real HTTP over loopback,
for tests of pages that must work behind such a proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: headers that belong to one connection, not to the message (RFC 9110 section 7.6.1)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


@contextmanager
def prefix_proxy(upstream: str, prefix: str = "/vg", port: int = 0) -> Iterator[str]:
    """Serve ``upstream`` under ``prefix`` on loopback (``port``, or a free one); yields the proxy's
    base URL (without the prefix)."""
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not (self.path == prefix or self.path.startswith(prefix + "/")):
                self.send_error(404, "outside the proxy's prefix")
                return
            length = int(self.headers.get("content-length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
            answer = client.request(
                self.command, self.path[len(prefix) :] or "/", headers=headers, content=self.rfile.read(length)
            )
            body = answer.content
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in _HOP_BY_HOP | {"content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        client.close()
