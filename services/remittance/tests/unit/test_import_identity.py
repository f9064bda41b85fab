from claimflow_remittance.domain.era_reader import read_835_file
from claimflow_remittance.domain.import_identity import (
    PaymentKey,
    content_sha256,
    duplicate_reason,
    import_identity,
)


def identity(text):
    return import_identity(text, read_835_file(text))


def test_replayed_835_is_a_duplicate_by_content(era):
    text = era("CLP*A1*1*100*100**12*PCN1")
    first = identity(text)

    reason = duplicate_reason(
        identity(text), known_hashes={first.content_sha256}, known_payments=set()
    )

    assert reason == "the same transactions were imported before"


def test_same_transactions_with_other_line_breaks_and_envelope_hash_the_same(era):
    text = era("CLP*A1*1*100*100**12*PCN1")
    rewrapped = text.replace("~\n", "~\r\n").replace("000000001", "000000777")

    assert content_sha256(text) == content_sha256(rewrapped)


def test_same_payer_trace_in_another_file_is_a_duplicate(era):
    first = identity(era("CLP*A1*1*100*100**12*PCN1"))
    resent = identity(era("CLP*A1*1*100*100**12*PCN1", "DTM*050*20240101"))

    assert resent.content_sha256 != first.content_sha256
    assert first.payments == (PaymentKey("1234567890", "EFT0001"),)
    reason = duplicate_reason(resent, known_hashes=set(), known_payments=set(first.payments))
    assert reason is not None and "EFT0001" in reason


def test_new_remittance_is_not_a_duplicate(era):
    first = identity(era("CLP*A1*1*100*100**12*PCN1"))
    other = identity(era("CLP*A1*1*100*100**12*PCN1").replace("EFT0001", "EFT0002"))

    assert (
        duplicate_reason(
            other, known_hashes={first.content_sha256}, known_payments=set(first.payments)
        )
        is None
    )


def test_all_zero_trace_of_a_notice_identifies_nothing(sample_text):
    assert identity(sample_text("pyx12-835_mult_loops.txt")).payments == ()
