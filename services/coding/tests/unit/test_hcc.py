from claimflow_coding.domain.hcc import hcc_categories


def test_final_codes_map_to_v28_payment_hccs():
    found = {c.hcc: c.codes for c in hcc_categories(codes=["J44.9", "I50.22"])}
    assert found == {"HCC280": ("J449",), "HCC226": ("I5022",)}


def test_hierarchy_keeps_the_more_severe_diabetes_category():
    found = [c.hcc for c in hcc_categories(codes=["E11.9", "E11.22"])]
    assert found == ["HCC37"]


def test_codes_outside_the_model_map_to_nothing():
    assert hcc_categories(codes=["I10", "J06.9"]) == []


def test_categories_carry_the_cms_label():
    (category,) = hcc_categories(codes=["E11.9"])
    assert category.label.startswith("Diabetes")


def test_only_an_eligible_face_to_face_service_makes_the_diagnoses_count():
    from claimflow_coding.domain.hcc import risk_adjustment_eligible

    assert risk_adjustment_eligible(procedure_codes=["99213", "36415"])
    assert risk_adjustment_eligible(procedure_codes=["99396"])
    assert not risk_adjustment_eligible(procedure_codes=["80048", "90471"])
