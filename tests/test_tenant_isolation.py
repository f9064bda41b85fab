"""With API keys on, for every operation every service documents: no key or a wrong key is
401, a tenant key never reads or changes another tenant's data (404, or nothing of theirs),
and operator views need an operator key. Keys go into the stack's key file, which the
services read again when it changes; removing it puts the stack back in development mode."""

from __future__ import annotations

import re

import httpx
import pytest

from claimflow_local.stack import SERVICES
from claimflow_shared.runtime.tenancy import hash_api_key
from tests.support import new_tenant, send_encounters, wait_for_postings

pytestmark = pytest.mark.infra

PUBLIC = re.compile(r"^/(health/|metrics$|openapi\.json$|docs|redoc|v1/ops/asyncapi$)")


def _operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method in methods:
            if method in {"get", "post", "put", "patch", "delete"} and not PUBLIC.match(path):
                yield method, path


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids.get(m.group(1), "ZZNOTFOUND1"), path)


async def test_keys_keep_every_tenant_to_its_own_data_on_every_operation(stack):
    owner, other = new_tenant("iso-a"), new_tenant("iso-b")
    mine = await send_encounters(stack, owner, 2, seed=91)
    theirs = await send_encounters(stack, other, 2, seed=92)
    rows = await wait_for_postings(stack, other, len(theirs))
    await wait_for_postings(stack, owner, len(mine))
    their_ids = {"encounter_id": theirs[0], "claim_id": rows[0]["claim_id"]}
    secrets = {"a": "key-of-a", "b": "key-of-b", "ops": "key-of-ops"}
    keys = stack.home / "api-keys"
    keys.write_text(
        f"alice:tenant:{owner}:{hash_api_key(secrets['a'])}\n"
        f"bob:tenant:{other}:{hash_api_key(secrets['b'])}\n"
        f"ops:operator:*:{hash_api_key(secrets['ops'])}\n"
    )
    checked = 0
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for service in SERVICES:
                base = stack.process(service).url
                spec = (await client.get(f"{base}/openapi.json")).json()
                for method, path in _operations(spec):
                    url = base + _fill(path, their_ids)
                    body = {} if method != "get" else None
                    for headers in ({}, {"X-API-Key": "wrong"}, {"X-Tenant-ID": other}):
                        response = await client.request(method, url, headers=headers, json=body)
                        assert response.status_code == 401, (service, method, path, headers)
                    as_a = await client.request(
                        method, url, headers={"X-API-Key": secrets["a"]}, json=body
                    )
                    if path.startswith("/v1/ops/"):
                        assert as_a.status_code == 403, (service, path)
                        if method == "get":
                            as_ops = await client.get(url, headers={"X-API-Key": secrets["ops"]})
                            # An operator reads it (or is told a made-up id is not there).
                            allowed = {200, 404} if "{" in path else {200}
                            assert as_ops.status_code in allowed, (service, path)
                    elif "{" in path or method != "get":
                        # Another tenant's object, or a change aimed at it: not found (or
                        # refused as malformed before any lookup), never done.
                        assert as_a.status_code in {403, 404, 405, 409, 413, 415, 422} or (
                            as_a.status_code == 200 and _mentions_none(as_a, their_ids)
                        ), (service, method, path, as_a.status_code)
                    else:
                        # A listing of the caller's own data (404 when the caller has none of
                        # it yet, e.g. no fee schedule of its own), never anyone else's.
                        assert as_a.status_code in {200, 404}, (service, path, as_a.status_code)
                        assert _mentions_none(as_a, their_ids), (service, path)
                    checked += 1
    finally:
        keys.unlink()
    assert checked >= 10


def _mentions_none(response: httpx.Response, ids: dict[str, str]) -> bool:
    """Nothing of theirs in the answer, whatever its type (JSON, a PDF, a CSV)."""
    return not any(value.encode() in response.content for value in ids.values())
