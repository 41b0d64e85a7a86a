// vidgate's /redoc: ReDoc on this server's OpenAPI document, with no inline script (the page's
// Content-Security-Policy allows none). The document's address is relative to the page, so that
// the page works at the server's root and behind a reverse proxy's path prefix.
"use strict";
(function () {
  var base = new URL(".", window.location.href).href;
  Redoc.init(base + "openapi.json", { hideDownloadButton: false, expandResponses: "200" }, document.getElementById("redoc"));
})();
