"""Who is calling: API keys, stored as SHA-256 hashes, each with a name, a role and a tenant.

- A tenant key acts for its own tenant only; the X-Tenant-ID header cannot change that.
- An operator key sees operator-wide views, and acts for a tenant only when it names one in
  X-Tenant-ID (audited as the operator).
- Without keys a service refuses to start, unless it is told it runs for local development
  (`ALLOW_INSECURE_DEV=true`): then X-Tenant-ID is trusted and every caller is an operator.

Key entries are `name:role:tenant:sha256` (tenant `*` for an operator key), comma-separated
in `API_KEYS` or one per line in the file `API_KEYS_FILE` (a mounted secret), which is read
again when it changes, so a new key needs no restart."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request

Role = Literal["tenant", "operator"]
ROLES: tuple[Role, ...] = ("tenant", "operator")

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class InvalidKeySpec(ValueError):
    """An API key entry that cannot be read (the message names the entry, never a secret)."""


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random key; shown once, stored only as its hash."""
    return f"cfk_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: Role
    tenant_id: str | None
    digest: str

    def entry(self) -> str:
        return f"{self.name}:{self.role}:{self.tenant_id or '*'}:{self.digest}"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the audit trail names it."""

    name: str
    role: Role
    tenant_id: str | None

    def __str__(self) -> str:
        return f"{self.role}:{self.name}"


def is_tenant_id(value: str) -> bool:
    return bool(_TENANT.match(value))


def make_api_key(*, name: str, role: Role, tenant_id: str | None, digest: str) -> ApiKey:
    if not _NAME.match(name):
        raise InvalidKeySpec(f"key name {name!r} must be letters, digits, . _ @ - (max 64)")
    if role not in ROLES:
        raise InvalidKeySpec(f"role of key {name!r} must be one of {', '.join(ROLES)}")
    if role == "tenant" and (tenant_id is None or not is_tenant_id(tenant_id)):
        raise InvalidKeySpec(f"tenant key {name!r} needs a tenant id (lower case, digits, - _)")
    if tenant_id is not None and not is_tenant_id(tenant_id):
        raise InvalidKeySpec(f"key {name!r} names a malformed tenant id")
    if not _DIGEST.match(digest):
        raise InvalidKeySpec(f"key {name!r} must carry a SHA-256 hex digest, not a key")
    return ApiKey(name=name, role=role, tenant_id=tenant_id, digest=digest)


def parse_api_keys(spec: str) -> dict[str, ApiKey]:
    """Entries `name:role:tenant:sha256` separated by commas or lines → {digest: key}.
    The older `tenant=sha256` form is read as a tenant key named after its tenant."""
    keys: dict[str, ApiKey] = {}
    for raw in re.split(r"[,\n]", spec):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        if "=" in item and item.count(":") == 0:
            tenant, _, digest = item.partition("=")
            key = make_api_key(
                name=tenant.strip(), role="tenant", tenant_id=tenant.strip(), digest=digest.strip()
            )
        else:
            parts = [p.strip() for p in item.split(":")]
            if len(parts) != 4:
                raise InvalidKeySpec(
                    f"API key entry {len(keys) + 1} is not name:role:tenant:sha256"
                )
            name, role, tenant, digest = parts
            key = make_api_key(
                name=name,
                role=role,  # type: ignore[arg-type]
                tenant_id=None if tenant == "*" else tenant,
                digest=digest.lower(),
            )
        keys[key.digest] = key
    return keys


class Access:
    """The keys a service accepts (from settings and a file re-read when it changes)."""

    def __init__(self, *, spec: str = "", file: Path | None = None, dev: bool = False) -> None:
        self.spec = spec
        self.file = file
        self.dev = dev
        self._loaded: tuple[float | None, dict[str, ApiKey]] = (None, {})
        self.keys()  # a malformed entry stops the service at start, not at the first call

    def keys(self) -> dict[str, ApiKey]:
        keys = parse_api_keys(self.spec)
        if self.file is not None and self.file.exists():
            mtime = self.file.stat().st_mtime
            if self._loaded[0] != mtime:
                self._loaded = (mtime, parse_api_keys(self.file.read_text()))
            keys = {**keys, **self._loaded[1]}
        return keys

    def check_startable(self) -> None:
        """Refuse to serve anyone without keys, unless told this is local development."""
        if not self.keys() and not self.dev:
            raise RuntimeError(
                "refusing to start: no API keys are configured (API_KEYS or API_KEYS_FILE); "
                "set ALLOW_INSECURE_DEV=true only for a local development run"
            )

    def authenticate(self, api_key: str | None, tenant_header: str | None) -> Principal:
        keys = self.keys()
        if keys:
            digest = hash_api_key(api_key or "")
            key = next((k for d, k in keys.items() if hmac.compare_digest(d, digest)), None)
            if key is None:
                raise HTTPException(status_code=401, detail="missing or unknown X-API-Key")
            tenant = key.tenant_id
            if key.role == "operator" and tenant_header:
                tenant = _tenant_header(tenant_header)
            return Principal(name=key.name, role=key.role, tenant_id=tenant)
        if self.dev:
            tenant = _tenant_header(tenant_header) if tenant_header else None
            return Principal(name=f"dev-{tenant or 'operator'}", role="operator", tenant_id=tenant)
        raise HTTPException(status_code=401, detail="missing or unknown X-API-Key")


def _tenant_header(value: str) -> str:
    if not is_tenant_id(value):
        raise HTTPException(status_code=401, detail="X-Tenant-ID header malformed")
    return value


def current_principal(
    request: Request,
    x_api_key: Annotated[str | None, Header()] = None,
    x_tenant_id: Annotated[str | None, Header()] = None,
) -> Principal:
    access: Access = request.app.state.access
    return access.authenticate(x_api_key, x_tenant_id)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def current_tenant(principal: PrincipalDep) -> str:
    if principal.tenant_id is None:
        raise HTTPException(
            status_code=401, detail="X-Tenant-ID header missing: this call acts for one tenant"
        )
    return principal.tenant_id


def current_operator(principal: PrincipalDep) -> Principal:
    if principal.role != "operator":
        raise HTTPException(status_code=403, detail="this view needs an operator credential")
    return principal


TenantDep = Annotated[str, Depends(current_tenant)]
OperatorDep = Annotated[Principal, Depends(current_operator)]
