from claimflow_remittance.domain.file_assessment import assess_835


def test_clean_file_is_posted_with_its_identity(era):
    assessment = assess_835(era("CLP*A1*1*100*100**12*PCN1"))

    assert assessment.policy == "post"
    assert assessment.problems == ()
    assert assessment.claim_count == 1
    assert assessment.identity.payments[0].trace_number == "EFT0001"


def test_file_that_does_not_balance_is_held_and_says_where(era):
    text = era("CLP*A1*1*100*100**12*PCN1", control="0001") + era(
        "CLP*B1*1*50*50**12*PCN2", total="70.00", control="0002"
    )

    assessment = assess_835(text)

    assert assessment.held()
    (found,) = assessment.problems
    assert found.as_dict() == {
        "transaction": 1,
        "control_number": "0002",
        "kind": "file-out-of-balance",
        "policy": "hold",
        "position": 18,  # positions count from the start of the file
        "segment": "BPR",
        "message": "BPR02 70.00 != Σ CLP04 50.00 - Σ PLB 0.00 = 50.00 (off by 20.00)",
    }


def test_every_sample_is_assessed_without_being_held(samples):
    for path in sorted(samples.iterdir()):
        assessment = assess_835(path.read_text(encoding="utf-8"))
        assert assessment.policy in ("post", "flag"), path.name
