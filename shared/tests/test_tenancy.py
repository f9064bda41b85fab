"""API calls belong to exactly one tenant; keys are compared by their SHA-256 hash."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from claimflow_shared.runtime.tenancy import TenantDep, hash_api_key, parse_api_keys


def _client(api_keys: str = "") -> TestClient:
    app = FastAPI()
    app.state.api_keys = parse_api_keys(api_keys)

    @app.get("/whoami")
    async def whoami(tenant: TenantDep) -> dict:
        return {"tenant": tenant}

    return TestClient(app)


def test_with_keys_configured_the_key_decides_the_tenant_not_the_header():
    client = _client(f"acme={hash_api_key('s3cret')},globex={hash_api_key('other')}")
    response = client.get("/whoami", headers={"X-API-Key": "s3cret", "X-Tenant-ID": "globex"})
    assert response.json() == {"tenant": "acme"}


def test_an_unknown_key_is_refused():
    client = _client(f"acme={hash_api_key('s3cret')}")
    assert client.get("/whoami", headers={"X-API-Key": "guess"}).status_code == 401
    assert client.get("/whoami").status_code == 401


def test_without_keys_the_tenant_header_must_be_well_formed():
    client = _client()
    assert client.get("/whoami", headers={"X-Tenant-ID": "acme"}).json() == {"tenant": "acme"}
    assert client.get("/whoami", headers={"X-Tenant-ID": "../etc"}).status_code == 401
    assert client.get("/whoami").status_code == 401
