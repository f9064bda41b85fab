"""Production-safe defaults, and the embedded database refused where it cannot work."""

import pytest

from claimflow_shared.runtime.settings import ServiceSettings


def test_replication_defaults_to_three_for_production():
    assert ServiceSettings().kafka_replication_factor == 3


def test_a_replicated_stage_refuses_sqlite(tmp_path):
    with pytest.raises(RuntimeError, match="cannot share SQLite"):
        ServiceSettings(service_replicas=2, data_dir=tmp_path).check_database()
    ServiceSettings(service_replicas=1, data_dir=tmp_path).check_database()
    ServiceSettings(service_replicas=3, database_url="postgresql+asyncpg://u@h/db").check_database()
