// Swagger UI over the three specs the mock validates against, all served by the mock itself.
window.ui = SwaggerUIBundle({
  urls: [
    { url: "/openapi/kosmos-events.yaml", name: "1Kosmos Events API" },
    { url: "/openapi/tenduke-events.yaml", name: "10Duke Event Data API" },
    { url: "/openapi/admin.yaml", name: "eventdouble admin API" },
  ],
  "urls.primaryName": new URLSearchParams(location.search).get("spec") || "1Kosmos Events API",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});
