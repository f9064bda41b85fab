"""What an uploaded or downloaded 835 file is, before anything is posted: its transactions,
every problem with its transaction, the policy they call for (post, flag, hold) and the
identity that makes a second import of the same remittance a no-op."""

from __future__ import annotations

from dataclasses import dataclass

from claimflow_remittance.domain.era_model import Policy, Problem, Remittance
from claimflow_remittance.domain.era_reader import read_835_file
from claimflow_remittance.domain.import_identity import ImportIdentity, import_identity
from claimflow_remittance.domain.problems import file_policy


@dataclass(frozen=True)
class FileProblem:
    transaction: int  # index of the ST*835 in the file, from 0
    control_number: str  # ST02
    problem: Problem

    def as_dict(self) -> dict[str, object]:
        """The shape an API answer lists: field names, no element values beyond the message."""
        p = self.problem
        return {
            "transaction": self.transaction,
            "control_number": self.control_number,
            "kind": p.kind,
            "policy": p.policy,
            "position": p.position,
            "segment": p.segment_id,
            "message": p.message,
        }


@dataclass(frozen=True)
class FileAssessment:
    remittances: tuple[Remittance, ...]
    problems: tuple[FileProblem, ...]
    policy: Policy
    identity: ImportIdentity

    @property
    def claim_count(self) -> int:
        return sum(len(r.claims) for r in self.remittances)

    def held(self) -> bool:
        return self.policy == "hold"


def assess_835(text: str) -> FileAssessment:
    """Read and judge a file; X12Error when it is not an 835 at all."""
    remittances = tuple(read_835_file(text))
    problems = tuple(
        FileProblem(index, remittance.control_number, problem)
        for index, remittance in enumerate(remittances)
        for problem in remittance.problems
    )
    return FileAssessment(
        remittances=remittances,
        problems=problems,
        policy=file_policy(fp.problem for fp in problems),
        identity=import_identity(text, remittances),
    )
