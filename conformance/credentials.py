"""The credentials file: what a QA engineer has for a real target, by role (YAML or JSON).

```yaml
kosmos:
  tenant: acme
  community: main
  other_community: second        # another community of `tenant`
  other_tenant: globex           # a tenant the tenant/community licenses may not touch
  licenses:                      # license keys by role; each role missing skips the checks needing it
    system: 1b7c...              # authLevel system (service-key administration)
    service: 8d2e...             # authLevel service
    tenant: 44aa...              # authLevel tenant, for `tenant`
    community: 93fe...           # authLevel community, for `tenant`/`community`
    disabled: 0c11...            # a disabled license
    expired: 5e6f...             # an expired license
    other_tenant: 7a7a...        # authLevel tenant, for `other_tenant`
  expiring: {license: 2b2b..., expiry: "2026-11-23T10:00:30Z"}   # expires within a minute of the run
tenduke:
  feed: conformance              # prefix of the event sources the kit writes to
  client_key: client.pem         # a registered client's RSA private key (path, relative to this file)
  second_client_key: other.pem   # another registered client
  weak_key: weak-1024.pem        # an RSA key under 2048 bits the server registered anyway
  ec_key: ec-p256.pem            # a non-RSA key the server registered anyway
```
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from conformance.core import KOSMOS_ROLES, TENDUKE_KEYS, ConformanceError, KosmosTarget, Target, TenDukeTarget

__all__ = ["dump_credentials", "load_credentials"]

KOSMOS_FIELDS = {"tenant", "community", "other_tenant", "other_community", "licenses", "expiring", "allowed_time_span"}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConformanceError(f"credentials: {where} must be a non-empty string")
    return value


def _pem(value: Any, where: str, base: Path) -> str:
    text = _text(value, where)
    if "-----BEGIN" in text:
        return text
    path = base / text
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConformanceError(f"credentials: {where}: cannot read {path}: {exc.strerror}") from exc


def _expiry(value: Any) -> float:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConformanceError(f"credentials: kosmos.expiring.expiry {value!r} is not an ISO 8601 time") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _kosmos(section: Any) -> KosmosTarget:
    if not isinstance(section, dict):
        raise ConformanceError("credentials: kosmos must be a mapping")
    if unknown := sorted(set(section) - KOSMOS_FIELDS):
        raise ConformanceError(f"credentials: unknown kosmos keys {unknown}; known: {sorted(KOSMOS_FIELDS)}")
    licenses = section.get("licenses") or {}
    if not isinstance(licenses, dict) or (unknown := sorted(set(licenses) - set(KOSMOS_ROLES))):
        raise ConformanceError(f"credentials: kosmos.licenses takes the roles {list(KOSMOS_ROLES)}")
    expiring = section.get("expiring")
    if expiring is not None and not (isinstance(expiring, dict) and {"license", "expiry"} <= set(expiring)):
        raise ConformanceError("credentials: kosmos.expiring needs `license` and `expiry`")
    return KosmosTarget(
        tenant=_text(section.get("tenant"), "kosmos.tenant"),
        community=_text(section.get("community"), "kosmos.community"),
        licenses={role: _text(key, f"kosmos.licenses.{role}") for role, key in licenses.items()},
        other_tenant=section.get("other_tenant"),
        other_community=section.get("other_community"),
        expiring=(expiring["license"], _expiry(expiring["expiry"])) if expiring else None,
        allowed_time_span=int(section.get("allowed_time_span", 60)),
    )


def _tenduke(section: Any, base: Path) -> TenDukeTarget:
    if not isinstance(section, dict):
        raise ConformanceError("credentials: tenduke must be a mapping")
    if unknown := sorted(set(section) - {"feed", *TENDUKE_KEYS}):
        raise ConformanceError(f"credentials: unknown tenduke keys {unknown}; known: {['feed', *TENDUKE_KEYS]}")
    keys = {
        TENDUKE_KEYS[name]: _pem(section[name], f"tenduke.{name}", base) for name in TENDUKE_KEYS if name in section
    }
    if "private_key_pem" not in keys:
        raise ConformanceError("credentials: tenduke.client_key is required (a registered client's private key)")
    return TenDukeTarget(feed=_text(section.get("feed", "conformance"), "tenduke.feed"), **keys)


def load_credentials(path: str | Path, base_url: str) -> Target:
    """Read a credentials file into a :class:`Target` for ``base_url``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConformanceError(f"cannot read credentials file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConformanceError(f"credentials file {path} is not YAML: {exc}") from exc
    if not isinstance(data, dict) or not set(data) & {"kosmos", "tenduke"}:
        raise ConformanceError(f"credentials file {path} needs a `kosmos` or a `tenduke` section")
    if unknown := sorted(set(data) - {"kosmos", "tenduke"}):
        raise ConformanceError(f"credentials file {path}: unknown sections {unknown}")
    return Target(
        base_url,
        kosmos=_kosmos(data["kosmos"]) if "kosmos" in data else None,
        tenduke=_tenduke(data["tenduke"], path.parent) if "tenduke" in data else None,
    )


def dump_credentials(target: Target, directory: str | Path) -> Path:
    """Write ``target``'s credentials as ``credentials.yaml`` (keys as PEM files beside it)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}
    if (k := target.kosmos) is not None:
        section: dict[str, Any] = {"tenant": k.tenant, "community": k.community, "licenses": dict(k.licenses)}
        section.update({name: getattr(k, name) for name in ("other_tenant", "other_community") if getattr(k, name)})
        if k.expiring:
            expiry = datetime.fromtimestamp(k.expiring[1], UTC).isoformat(timespec="milliseconds")
            section["expiring"] = {"license": k.expiring[0], "expiry": expiry.replace("+00:00", "Z")}
        data["kosmos"] = section
    if (t := target.tenduke) is not None:
        tenduke: dict[str, Any] = {"feed": t.feed}
        for name, attribute in TENDUKE_KEYS.items():
            if pem := getattr(t, attribute):
                (out / f"{name}.pem").write_text(pem, encoding="utf-8")
                tenduke[name] = f"{name}.pem"
        data["tenduke"] = tenduke
    path = out / "credentials.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
