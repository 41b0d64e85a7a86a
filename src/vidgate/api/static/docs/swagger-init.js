// vidgate's /docs: Swagger UI on this server's OpenAPI document, with no inline script (the page's
// Content-Security-Policy allows none). Every address is taken relative to the page, so that the
// same page works at the server's root and behind a reverse proxy's path prefix (/vg/docs loads
// /vg/openapi.json, and "Try it out" calls /vg/v1/...).
"use strict";
(function () {
  var base = new URL(".", window.location.href).href; // the folder of the page: the prefix, if any
  var root = document.getElementById("swagger-ui");
  fetch(base + "openapi.json", { credentials: "same-origin" })
    .then(function (answer) {
      if (!answer.ok) {
        throw new Error("GET openapi.json answered " + answer.status);
      }
      return answer.json();
    })
    .then(function (spec) {
      // "Try it out" calls the server that served this page, under the same prefix
      spec.servers = [{ url: base.replace(/\/$/, ""), description: "this server" }];
      window.ui = SwaggerUIBundle({
        spec: spec,
        domNode: root,
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
        validatorUrl: null,
        persistAuthorization: false,
        tryItOutEnabled: false,
        displayRequestDuration: true,
        showExtensions: false,
      });
    })
    .catch(function (error) {
      root.textContent = "The API description could not be loaded: " + error.message;
    });
})();
