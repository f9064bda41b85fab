"""Intake's pure rules, no I/O: what an acceptable encounter is and how each input becomes one.

- `registry`: tenant master data (payers, providers, facilities, defaults) and resolution.
- `validation`: the field rules and the one validation pipeline every input ends in.
- `fhir`: FHIR R4 bundles (Synthea included) → one result per Encounter; provider directories.
- `hl7`: HL7 v2 DFT^P03 / ADT^A04/A08 and their ACKs; `mllp`: the MLLP framing and loop.
- `json_encounter`, `bulk`: JSON encounters, streamed NDJSON and CSV files with checkpoints.
- `encounters`: identity, the content fingerprint, repeats and amendments.
"""
