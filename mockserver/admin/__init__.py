"""The mock's own admin API (``/__admin``), described by ``openapi/admin.yaml``."""
