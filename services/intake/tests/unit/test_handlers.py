"""Accepting encounters over an in-memory unit of work: once per source document."""

from __future__ import annotations

import pytest

from claimflow_cli.synthetic import encounter
from claimflow_intake.domain.encounters import DocumentConflict
from claimflow_intake.handlers import accept_encounters
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED


def documented(n: int, tenant: str = "acme", **changes) -> EncounterDocumented:
    return EncounterDocumented.model_validate(encounter(tenant, n, seed=3) | changes)


async def test_each_new_document_becomes_one_event_for_its_tenant(uow):
    results = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1), documented(2)]
    )
    assert [r.created for r in results] == [True, True]
    assert [e.event_type for e in uow.emitted] == [ENCOUNTER_DOCUMENTED.event_type] * 2
    assert [e.encounter_id for e in uow.emitted] == [r.encounter_id for r in results]
    assert {e.tenant_id for e in uow.emitted} == {"acme"}


async def test_a_retried_document_is_the_same_encounter_and_no_second_event(uow):
    (first,) = await accept_encounters(uow=uow, tenant_id="acme", encounters=[documented(1)])
    (again,) = await accept_encounters(uow=uow, tenant_id="acme", encounters=[documented(1)])
    assert again.encounter_id == first.encounter_id and not again.created
    assert len(uow.emitted) == 1


async def test_the_same_document_twice_in_one_batch_counts_once(uow):
    results = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1), documented(1)]
    )
    assert results[0].encounter_id == results[1].encounter_id
    assert [r.created for r in results] == [True, False]
    assert len(uow.emitted) == 1


async def test_changed_content_under_a_known_document_id_is_a_conflict(uow):
    await accept_encounters(uow=uow, tenant_id="acme", encounters=[documented(1)])
    with pytest.raises(DocumentConflict):
        await accept_encounters(
            uow=uow, tenant_id="acme", encounters=[documented(1, place_of_service="22")]
        )


async def test_tenants_do_not_share_documents(uow):
    body = encounter("acme", 1, seed=3)
    await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[EncounterDocumented.model_validate(body)]
    )
    (other,) = await accept_encounters(
        uow=uow, tenant_id="globex", encounters=[EncounterDocumented.model_validate(body)]
    )
    assert other.created
