"""The file-drop clearinghouse adapter: 837 to the outbox, 999/277CA from the inbox."""

import pytest

from claimflow_claims.adapters.filedrop import AcknowledgmentPending, FileDropClearinghouse


@pytest.fixture
def drop(tmp_path):
    return FileDropClearinghouse(outbox=tmp_path / "out", inbox=tmp_path / "in")


async def test_837_lands_whole_in_the_outbox_and_waits_for_its_999(drop):
    with pytest.raises(AcknowledgmentPending):
        await drop.submit(file_name="837P-000000001.x12", content="ISA*...~")
    assert (drop.outbox / "837P-000000001.x12").read_text() == "ISA*...~"
    assert [p.name for p in drop.outbox.iterdir()] == ["837P-000000001.x12"]


async def test_answers_in_the_inbox_make_the_receipt(drop):
    drop.inbox.mkdir(parents=True)
    (drop.inbox / "837P-000000001.999").write_text("999 text")
    (drop.inbox / "837P-000000001.277ca").write_text("277 text")
    (drop.inbox / "837P-000000002.999").write_text("other")
    receipt = await drop.submit(file_name="837P-000000001.x12", content="ISA~")
    assert (receipt.submission_id, receipt.ack_999, receipt.ack_277ca) == (
        "837P-000000001.x12",
        "999 text",
        "277 text",
    )


async def test_retry_sends_the_same_bytes_once(drop):
    drop.inbox.mkdir(parents=True)
    (drop.inbox / "837P-000000001.999").write_text("999")
    await drop.submit(file_name="837P-000000001.x12", content="ISA~")
    receipt = await drop.submit(file_name="837P-000000001.x12", content="ISA~")
    assert receipt.ack_277ca is None
    with pytest.raises(ValueError, match="other content"):
        await drop.submit(file_name="837P-000000001.x12", content="DIFFERENT~")


@pytest.mark.parametrize("name", ["../escape.x12", "a/b.x12", "", ".hidden"])
async def test_file_names_that_leave_the_outbox_are_refused(drop, name):
    with pytest.raises(ValueError, match="plain file name"):
        await drop.submit(file_name=name, content="ISA~")
