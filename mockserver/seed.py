"""Apply a ``--seed`` file (YAML or JSON) so a team gets the same credentials on every start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eventclient.exceptions import CryptoError
from mockserver.backend import Backend
from mockserver.db import compact_json
from mockserver.errors import RequestValidationError
from mockserver.faults import FaultRuleInvalid
from mockserver.kosmos.store import LicenseFieldInvalid
from mockserver.spec import load_spec

__all__ = ["SeedError", "apply_seed", "load_seed", "with_faults"]


class SeedError(Exception):
    """The seed file cannot be read or does not match the ``SeedFile`` schema of admin.yaml."""


class _SeedLoader(yaml.SafeLoader):
    """Safe YAML, except that an unquoted date-time (``expiry: 2030-01-01T00:00:00Z``) stays the text written."""


_SeedLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load_seed(path: str | Path) -> dict[str, Any]:
    """Read and validate a seed file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from exc
    try:
        seed = yaml.load(text, Loader=_SeedLoader) or {}  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise SeedError(f"seed file {path} is not YAML or JSON: {exc}") from exc
    try:
        load_spec("admin").check("/components/schemas/SeedFile", seed, "seed file")
    except RequestValidationError as exc:
        raise SeedError(f"{path}: {exc.message}") from exc
    return seed


def with_faults(seed: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``seed`` with ``rules`` added to its fault rules, checked against the ``FaultRuleInput`` schema."""
    for rule in rules:
        try:
            load_spec("admin").check("/components/schemas/FaultRuleInput", rule, "--fault")
        except RequestValidationError as exc:
            raise SeedError(exc.message) from exc
    return {**seed, "faults": [*seed.get("faults", []), *rules]}


def apply_seed(backend: Backend, seed: dict[str, Any]) -> list[str]:
    """Create the seed's licenses, 10Duke clients and fault rules that do not exist yet; return what was done."""
    done = []
    for fields in seed.get("licenses", []):
        if backend.kosmos.license_by_key(fields["licenseKey"]) is None:
            try:
                backend.kosmos.create_license(fields)
            except LicenseFieldInvalid as exc:
                raise SeedError(f"licenses: {fields['licenseKey']}: {exc}") from exc
            done.append(f"license {fields['licenseKey']} ({fields['authLevel']}) created")
    for client in seed.get("tendukeClients", []):
        try:
            record = backend.tenduke.register_client(client["publicKeyPem"], client.get("name"))
        except CryptoError as exc:
            raise SeedError(f"tendukeClients: {client.get('name') or 'a client'}: {exc}") from exc
        if record is not None:
            done.append(f"10Duke client {record.name or record.client_id} registered (thumbprint {record.thumbprint})")
    for fields in seed.get("faults", []):
        try:
            rule = backend.faults.ensure(fields)
        except FaultRuleInvalid as exc:
            raise SeedError(f"faults: {fields['path']}: {exc}") from exc
        if rule is not None:
            done.append(f"fault rule {rule['id']} added ({compact_json(fields)})")
    return done
