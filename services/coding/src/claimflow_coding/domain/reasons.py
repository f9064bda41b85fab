"""Why a coder must look: reasons that read as text and name the rule they come from."""

from __future__ import annotations


class Reason(str):
    """Text a coder reads, naming the rule or edit it comes from (`rule`), so the worklist
    can be filtered by kind of problem. It is a plain `str` everywhere else."""

    rule: str

    def __new__(cls, text: str, rule: str) -> Reason:
        reason = super().__new__(cls, text)
        reason.rule = rule
        return reason

    def __reduce__(self):
        return (Reason, (str(self), self.rule))


def rule_of(reason: str) -> str:
    """The rule a reason names (`CODING` for a plain string)."""
    return getattr(reason, "rule", "CODING")
