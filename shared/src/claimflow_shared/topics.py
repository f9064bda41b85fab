"""The topic registry: one topic per event type, major version in the name.

Message key = `tenant_id:encounter_id`, so one encounter's events stay in order on one
partition. Dead letters go to `<topic>.dlq`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from claimflow_shared.events import models as m


@dataclass(frozen=True)
class Topic:
    event_type: str
    version: str
    payload: type[BaseModel]
    description: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def name(self) -> str:
        return f"rcm.{self.event_type}.v{self.major}"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


ENCOUNTER_DOCUMENTED = Topic(
    "encounter.documented",
    "1.1",
    m.EncounterDocumented,
    "An encounter's clinical documentation arrived and was accepted by intake.",
)
ENCOUNTER_CODED = Topic(
    "encounter.coded",
    "1.2",
    m.EncounterCoded,
    "Final ICD-10-CM diagnoses and CPT/HCPCS lines were assigned.",
)
CODING_QUERY_RAISED = Topic(
    "coding.query-raised",
    "1.1",
    m.CodingQueryRaised,
    "The encounter cannot be coded as documented; it waits on the coder worklist.",
)
CLAIM_SUBMITTED = Topic(
    "claim.submitted",
    "1.1",
    m.ClaimSubmitted,
    "An 837 claim was built, scrubbed and handed to the clearinghouse.",
)
CLAIM_REJECTED = Topic(
    "claim.rejected",
    "1.1",
    m.ClaimRejected,
    "The clearinghouse (999), payer front end (277CA) or scrubber rejected the claim.",
)
REMITTANCE_RECEIVED = Topic(
    "remittance.received",
    "1.1",
    m.RemittanceReceived,
    "The payer's 835 adjudicated the claim and the payment was posted.",
)
CLAIM_DENIED = Topic(
    "claim.denied",
    "1.1",
    m.ClaimDenied,
    "The payer denied the claim; CARC/RARC, category and recommended action.",
)
PATIENT_BALANCE_DUE = Topic(
    "patient.balance-due",
    "1.1",
    m.PatientBalanceDue,
    "After posting, the patient owes a balance (deductible, coinsurance, copay).",
)
DENIAL_WORKED = Topic(
    "denial.worked",
    "1.0",
    m.DenialWorked,
    "A biller acted on a denial: correct and resubmit, appeal, write off or bill the patient.",
)
CLAIM_ACCEPTED = Topic(
    "claim.accepted",
    "1.0",
    m.ClaimAccepted,
    "The payer's front end (277CA) or the clearinghouse (999) accepted the claim.",
)
CLAIM_HELD = Topic(
    "claim.held",
    "1.0",
    m.ClaimHeld,
    "The claim waits in the held-claims queue: a failed scrubber edit or a failed send.",
)
CLAIM_STATE_CHANGED = Topic(
    "claim.state-changed",
    "1.0",
    m.ClaimStateChanged,
    "A claim moved for a reason no other event tells (a biller's action, a void closed, the "
    "next payer billed), with each step's actor and reason.",
)

TOPICS: dict[str, Topic] = {
    t.event_type: t
    for t in (
        ENCOUNTER_DOCUMENTED,
        ENCOUNTER_CODED,
        CODING_QUERY_RAISED,
        CLAIM_SUBMITTED,
        CLAIM_REJECTED,
        REMITTANCE_RECEIVED,
        CLAIM_DENIED,
        PATIENT_BALANCE_DUE,
        DENIAL_WORKED,
        CLAIM_ACCEPTED,
        CLAIM_HELD,
        CLAIM_STATE_CHANGED,
    )
}
TOPICS_BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS.values()}


def message_key(tenant_id: str, encounter_id: str) -> str:
    return f"{tenant_id}:{encounter_id}"
