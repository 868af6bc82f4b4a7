"""The options naming an HL7 sender (MSH-3 and MSH-4), as `cachexia source` and `cachexia
source code` take them."""

from __future__ import annotations

import argparse
from typing import Any

from cachexia.tokens import SENDER_DELIMITERS_SHOWN, is_sender_part


def sender_arguments(
    parser: argparse.ArgumentParser, part: Any = str, *, required: bool = True
) -> None:
    """``part``: checks each (``remove`` takes any, so that an entry stored by an earlier
    version that accepted anything can still be removed); not ``required``: a filter."""
    parser.add_argument(
        "--application", required=required, type=part, help="MSH-3 sending application"
    )
    parser.add_argument("--facility", required=required, type=part, help="MSH-4 sending facility")


def sender_part(text: str) -> str:
    """A sending application or facility that can match a message (as ``token create
    --sender`` takes them): not blank, none of HL7's separators; MSH-3's and MSH-4's
    namespace id is read (their first component), or their universal id when it is empty,
    so give e.g. LIS, not LIS^1.2.3^ISO, and 1.2.3 for ^1.2.3^ISO."""
    if not is_sender_part(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a non-blank name without {SENDER_DELIMITERS_SHOWN}, as MSH-3 "
            "or MSH-4 names the sender: its namespace id (e.g. LIS or HOSP), or its universal "
            "id when it has none (e.g. 1.2.756.999 for MSH-3 ^1.2.756.999^ISO)"
        )
    return text.strip()
