"""ClaimFlow's payer/clearinghouse simulator: a test double speaking X12, not a product service."""
