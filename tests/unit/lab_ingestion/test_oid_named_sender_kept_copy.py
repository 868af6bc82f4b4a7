"""An OID-named sender's kept copy names the same sender (review 71).

What went wrong: since a16f763 a sender that names itself by its universal id alone (MSH-3
``^2.16.840.1.113883.3.72.5.20^ISO``, the v2.5.1 LRI/ELR way) is known by that OID. The
redaction of a rejected message replaces every whole-word copy of the patient's number
anywhere in the message, MSH-3 and MSH-4 included, and an OID's arcs are whole words
between dots: a patient whose hospital number is one of the sender's arcs (``113883``,
HL7's own root, is an arc of every HL7-assigned OID; hospital arcs such as ``471100`` are
six-digit numbers like MRNs) gets the sender's name rewritten in the kept copy
(``2.16.840.1.HMAC:....3.72.5.20``). The rejection of a sender not yet on the allow-list is
known by its copy's MSH-3^MSH-4 (README, Replay), so ``rejection list`` shows a sender name
nobody can allow, and ``cachexia replay`` of it, once the real OID is allowed, reads the
copy as another, unknown sender and is refused again: the lab's first results (typically
the reason for the rejection: a new LRI sender not yet allow-listed) cannot be replayed.

What happens now: a sender named by an OID keeps its name in the kept copy (an OID is no
personal value); the copy reads back as the same sender.

``hl7_redaction`` keeps an MSH-3/MSH-4 universal id that is an OID as written; the rest of
those fields (a namespace id, the id's type, a universal id that is no OID) is scrubbed as
before: anyone who reaches the port writes them, a name or number there is no sender's.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.rejection_sources import rejection_source
from shared.contracts.events.lab import Channel


def _lri(mrn: str, sender: str = "^2.16.840.1.113883.3.471100^ISO") -> str:
    return (
        f"MSH|^~\\&|{sender}|^2.16.840.1.113883.3.72.5.21^ISO|"
        "LENA|TRIAL|20261120091512+0100||ORU^R01|LRI-1|P|2.5.1\r"
        f"PID|1||{mrn}^^^HOSP^MR||DOE^JANE||19600101\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        "OBX|1|NM|751-8^Neutrophils^LN||0.3|10*9/L|||||F|||20261120081512+0100\r"
    )


def test_the_kept_copy_of_an_oid_named_sender_names_the_same_sender() -> None:
    for mrn in ("471100", "113883"):
        text = _lri(mrn)
        original, _ = parse_oru(text, identify=lambda s: "h" * 64)
        copy, _ = parse_oru(redact(text, lambda s: "k" * 64), identify=lambda s: s)
        assert copy.source == original.source, (
            f"patient number {mrn}: the kept copy names sender {copy.source!r}, the message "
            f"came from {original.source!r}"
        )


def test_a_rejection_of_an_unknown_oid_named_sender_is_kept_under_its_oids() -> None:
    """``rejection list`` names the sender as the parser does: the OIDs, which
    ``cachexia source add`` takes (not ``^``, the namespace ids it has not)."""
    copy = redact(_lri("471100"), lambda s: "k" * 64)
    source = rejection_source(Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, copy, "x", listed=False)
    assert source == "2.16.840.1.113883.3.471100^2.16.840.1.113883.3.72.5.21"


@pytest.mark.parametrize(
    "sender",
    [
        "471100^2.16.840.1.113883.3.471100^ISO",  # the number as the namespace id
        "DOE^2.16.840.1.113883.3.471100^ISO",  # the name as the namespace id
        "^471100^L",  # a universal id that is no OID (one arc)
        "^2.16.471100^ISO",  # nor is one of three arcs: a date (1.3.1961) could be
        "^2.16.840.1.113883.3.471100^DOE",  # the name as the id's type
        "^2.16.840.1.113883.3.471100&DOE^ISO",  # run into sub-components: no OID
    ],
)
def test_the_rest_of_the_senders_fields_is_scrubbed_as_before(sender: str) -> None:
    copy = redact(_lri("471100", sender), lambda s: "k" * 64)
    msh3 = copy.split("\r")[0].split("|")[2]
    assert "DOE" not in msh3
    assert "471100" not in msh3.replace("2.16.840.1.113883.3.471100^", "")


def test_an_oid_is_kept_in_msh3_and_msh4_only() -> None:
    """Another field (MSH-5, an NTE) that holds the number as an OID's arc is scrubbed."""
    text = _lri("471100").replace("|LENA|", "|^2.16.840.1.471100.3.1^ISO|")
    copy = redact(text + "NTE|1||see 2.16.840.1.471100.3.1\r", lambda s: "k" * 64)
    assert copy.count("471100") == 1
    assert copy.split("\r")[0].split("|")[2] == "^2.16.840.1.113883.3.471100^ISO"
