"""The one X12 5010 codec: tokenizer, element types, text sanitising, envelopes and counts.

Every X12 reader and writer of the services builds on this package; transaction-specific
readers and writers live with the service that owns the transaction.
"""

from claimflow_shared.x12.elements import (
    AMOUNT_DIGITS,
    QUANTITY_DIGITS,
    Composite,
    amount,
    d6,
    d8,
    digits,
    parse_amount,
    parse_d8,
    parse_date_or_range,
    parse_decimal,
    parse_integer,
    parse_tm,
    quantity,
    rd8,
    text,
    tm,
)
from claimflow_shared.x12.envelope import (
    MAX_CONTROL_NUMBER,
    Element,
    Envelope,
    SegmentElements,
    isa_segment,
    render,
    transaction_control_number,
    wrap_interchange,
    write_interchange,
)
from claimflow_shared.x12.tokenizer import (
    DEFAULT_DELIMITERS,
    Delimiters,
    Segment,
    X12Error,
    detect_delimiters,
    read_segments,
)

__all__ = [
    "AMOUNT_DIGITS",
    "DEFAULT_DELIMITERS",
    "MAX_CONTROL_NUMBER",
    "QUANTITY_DIGITS",
    "Composite",
    "Delimiters",
    "Element",
    "Envelope",
    "Segment",
    "SegmentElements",
    "X12Error",
    "amount",
    "d6",
    "d8",
    "detect_delimiters",
    "digits",
    "isa_segment",
    "parse_amount",
    "parse_d8",
    "parse_date_or_range",
    "parse_decimal",
    "parse_integer",
    "parse_tm",
    "quantity",
    "rd8",
    "read_segments",
    "render",
    "text",
    "tm",
    "transaction_control_number",
    "wrap_interchange",
    "write_interchange",
]
