"""The OpenAPI specs, the one source of truth; installed as the package data ``eventdouble.openapi``."""
