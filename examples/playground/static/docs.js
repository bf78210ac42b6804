"use strict";
// The API page: Swagger UI on the route group's OpenAPI document, whose
// server is the prefix it was served under (/api).
if (window.SwaggerUIBundle) {
  window.ui = window.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
} else {
  document.getElementById("docs-missing").hidden = false;
}
