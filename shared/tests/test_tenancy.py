"""Who is calling: tenant keys act for their tenant only, operator keys see operator views,
keys are compared by hash, and without keys nothing is served outside development."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from claimflow_shared.runtime.tenancy import (
    Access,
    InvalidKeySpec,
    OperatorDep,
    PrincipalDep,
    TenantDep,
    hash_api_key,
    new_api_key,
    parse_api_keys,
)

ACME = f"alice:tenant:acme:{hash_api_key('s3cret')}"
GLOBEX = f"bob:tenant:globex:{hash_api_key('other')}"
OPS = f"ops:operator:*:{hash_api_key('ops-key')}"


def _client(spec: str = "", *, dev: bool = False) -> TestClient:
    app = FastAPI()
    app.state.access = Access(spec=spec, dev=dev)

    @app.get("/whoami")
    async def whoami(tenant: TenantDep, principal: PrincipalDep) -> dict:
        return {"tenant": tenant, "principal": str(principal)}

    @app.get("/ops")
    async def ops(principal: OperatorDep) -> dict:
        return {"principal": str(principal)}

    return TestClient(app)


def test_the_key_decides_the_tenant_not_the_header():
    client = _client(",".join([ACME, GLOBEX]))
    response = client.get("/whoami", headers={"X-API-Key": "s3cret", "X-Tenant-ID": "globex"})
    assert response.json() == {"tenant": "acme", "principal": "tenant:alice"}


def test_an_unknown_or_missing_key_is_refused():
    client = _client(ACME)
    assert client.get("/whoami", headers={"X-API-Key": "guess"}).status_code == 401
    assert client.get("/whoami").status_code == 401
    assert client.get("/whoami", headers={"X-Tenant-ID": "acme"}).status_code == 401


def test_operator_views_need_an_operator_key():
    client = _client(",".join([ACME, OPS]))
    assert client.get("/ops", headers={"X-API-Key": "s3cret"}).status_code == 403
    assert client.get("/ops", headers={"X-API-Key": "ops-key"}).json() == {
        "principal": "operator:ops"
    }


def test_an_operator_acts_for_a_tenant_only_when_it_names_one():
    client = _client(OPS)
    assert client.get("/whoami", headers={"X-API-Key": "ops-key"}).status_code == 401
    named = client.get("/whoami", headers={"X-API-Key": "ops-key", "X-Tenant-ID": "acme"})
    assert named.json() == {"tenant": "acme", "principal": "operator:ops"}


def test_in_development_without_keys_the_header_is_trusted_but_must_be_well_formed():
    client = _client(dev=True)
    assert client.get("/whoami", headers={"X-Tenant-ID": "acme"}).json()["tenant"] == "acme"
    assert client.get("/whoami", headers={"X-Tenant-ID": "../etc"}).status_code == 401
    assert client.get("/whoami").status_code == 401


def test_a_service_without_keys_refuses_to_start_unless_in_development():
    with pytest.raises(RuntimeError, match="ALLOW_INSECURE_DEV"):
        Access().check_startable()
    Access(dev=True).check_startable()
    Access(spec=ACME).check_startable()


def test_keys_are_read_from_a_file_again_when_it_changes(tmp_path):
    keys = tmp_path / "api-keys"
    keys.write_text(ACME + "\n")
    access = Access(file=keys)
    assert {k.name for k in access.keys().values()} == {"alice"}
    keys.write_text(ACME + "\n" + OPS + "\n")
    import os

    os.utime(keys, (1, 2))  # a different mtime, as a later write would have
    assert {k.name for k in access.keys().values()} == {"alice", "ops"}


def test_a_malformed_entry_is_named_without_echoing_a_secret():
    with pytest.raises(InvalidKeySpec) as error:
        parse_api_keys("alice:tenant:acme:not-a-digest-but-a-secret")
    assert "not-a-digest-but-a-secret" not in str(error.value)


def test_new_keys_are_random_and_long():
    assert len({new_api_key() for _ in range(100)}) == 100
    assert len(new_api_key()) > 40


def test_the_older_tenant_equals_hash_form_still_reads():
    (key,) = parse_api_keys(f"acme={hash_api_key('s3cret')}").values()
    assert (key.name, key.role, key.tenant_id) == ("acme", "tenant", "acme")
