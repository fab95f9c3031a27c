// Starts Swagger UI on the API reference page (a static file: the Content-Security-Policy allows no inline script).
// "Try it out" runs with the page's session; unsafe methods carry the CSRF token the page was rendered with.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  var csrf = root.dataset.csrfToken;
  SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: function (request) {
      if (!/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) request.headers["X-CSRFToken"] = csrf;
      return request;
    },
  });
});
