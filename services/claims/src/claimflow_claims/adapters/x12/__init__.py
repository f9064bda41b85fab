"""X12 transactions the claims service writes (837P, 837I) and reads (999, 277CA), each in a
module named for it, all on the shared codec `claimflow_shared.x12`."""
