"""Which tenant an API call belongs to. API keys are stored hashed (SHA-256) in settings;
with none configured (a local run) the X-Tenant-ID header is trusted."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_keys(spec: str) -> dict[str, str]:
    """`tenant=sha256hex,tenant2=sha256hex` → {hash: tenant}."""
    keys = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        tenant, _, digest = item.partition("=")
        keys[digest.strip().lower()] = tenant.strip()
    return keys


def current_tenant(
    request: Request,
    x_tenant_id: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    keys: dict[str, str] = getattr(request.app.state, "api_keys", {})
    if keys:
        digest = hash_api_key(x_api_key or "")
        tenant = next((t for h, t in keys.items() if hmac.compare_digest(h, digest)), None)
        if tenant is None:
            raise HTTPException(status_code=401, detail="missing or unknown X-API-Key")
        return tenant
    if not x_tenant_id or not _TENANT.match(x_tenant_id):
        raise HTTPException(status_code=401, detail="X-Tenant-ID header missing or malformed")
    return x_tenant_id


TenantDep = Annotated[str, Depends(current_tenant)]
