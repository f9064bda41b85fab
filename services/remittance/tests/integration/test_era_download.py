"""The ERA download: one bad 835 is quarantined and never stops the files after it; an
outage stops everything and skips nothing."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from claimflow_remittance.adapters.clearinghouse import EraFile
from claimflow_remittance.era_download import EraDownload
from claimflow_remittance.settings import Settings
from services.remittance.tests.integration.conftest import OPERATOR, as_tenant, deliver
from services.remittance.tests.unit.builders import era, paid_clp, submitted


class Clearinghouse:
    name = "clearinghouse"

    def __init__(self, files: list[str]) -> None:
        self.files = [EraFile(seq, f"era-{seq}.835", text) for seq, text in enumerate(files, 1)]

    async def files_after(self, seq: int, *, limit: int) -> list[EraFile]:
        return [f for f in self.files if f.seq > seq][:limit]


async def test_an_unreadable_835_is_quarantined_and_the_next_one_posts(api, uows):
    await deliver(uows, submitted("C1-1"))
    source = Clearinghouse(["ISA*garbage that is not x12", era(paid_clp("C1-1"))])
    download = EraDownload(uows=uows, source=source, settings=Settings())

    await download.download_once()

    files = (await api.get("/v1/ops/files", headers=OPERATOR)).json()
    assert [(f["status"], f["error"] is not None) for f in files] == [
        ("posted", False),
        ("quarantined", True),
    ]
    assert files[1]["received_by"] == "clearinghouse:clearinghouse"
    assert [p["claim_id"] for p in (await api.get("/v1/postings", headers=as_tenant())).json()] == [
        "C1-1"
    ]
    async with uows() as uow:
        assert (await uow.ledger.cursor("clearinghouse")).last_seq == 2
    await download.download_once()  # nothing new: nothing repeated
    assert len((await api.get("/v1/ops/files", headers=OPERATOR)).json()) == 2


async def test_a_file_that_breaks_posting_is_quarantined_too(api, uows, monkeypatch):
    import claimflow_remittance.era_download as module

    async def broken(**_):
        raise ZeroDivisionError("a bug in posting")

    monkeypatch.setattr(module, "import_835", broken)
    download = EraDownload(
        uows=uows, source=Clearinghouse([era(paid_clp("C1-1"))]), settings=Settings()
    )

    await download.download_once()

    [file] = (await api.get("/v1/ops/files", headers=OPERATOR)).json()
    assert (file["status"], file["error"]) == ("quarantined", "posting failed: ZeroDivisionError")


async def test_an_outage_while_posting_moves_nothing(api, uows, monkeypatch):
    import claimflow_remittance.era_download as module

    async def away(**_):
        raise OperationalError("SELECT 1", {}, ConnectionError("database away"))

    monkeypatch.setattr(module, "import_835", away)
    download = EraDownload(
        uows=uows, source=Clearinghouse([era(paid_clp("C1-1"))]), settings=Settings()
    )

    with pytest.raises(OperationalError):
        await download.download_once()

    assert (await api.get("/v1/ops/files", headers=OPERATOR)).json() == []
    async with uows() as uow:
        assert (await uow.ledger.cursor("clearinghouse")).last_seq == 0


async def test_a_deadlock_is_tried_again_before_the_file_is_quarantined(api, uows, monkeypatch):
    import claimflow_remittance.era_download as module

    calls = []
    real = module.import_835

    async def deadlocked_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("lock wait")
        return await real(**kwargs)

    monkeypatch.setattr(module, "import_835", deadlocked_once)
    await deliver(uows, submitted("C1-1"))
    download = EraDownload(
        uows=uows, source=Clearinghouse([era(paid_clp("C1-1"))]), settings=Settings()
    )

    with pytest.raises(TimeoutError):
        await download.download_once()
    await download.download_once()

    [file] = (await api.get("/v1/ops/files", headers=OPERATOR)).json()
    assert file["status"] == "posted" and len(calls) == 2
