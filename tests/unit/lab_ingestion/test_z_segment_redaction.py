"""A kept HL7 copy holds a Z-segment's name only (review 68): a site's own segment may hold
anything (a national number, another name of the patient's) that appears nowhere in PID, so
no scrubbing of PID's values can find it; the platform reads none of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_redaction import redact

MESSAGE = (
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|Z-1|P|2.5.1\r"
    "PID|1||MRN1^^^HOSP^MR||DOE^JOHN\r"
    "{z}\r"
    "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12.5|mg/L|0-5|H|||F|||20261120081500+0100\r"
)


def _hash(identifier: str) -> str:
    return f"h({identifier})"


def test_a_z_segment_keeps_its_name_only_and_the_copy_still_reads() -> None:
    copy = redact(MESSAGE.format(z="ZPI|1|756.9217.0769.85|Muster^Hans|0791234567"), _hash)
    assert "\rZPI\r" in copy
    for secret in ("756.9217.0769.85", "Muster", "Hans", "0791234567"):
        assert secret not in copy
    message, _ = parse_oru(copy, identify=_hash)  # a replay reads the copy as before
    assert [o.value for o in message.observations] == ["12.5"]


@given(st.text(alphabet=st.characters(blacklist_characters="\r\n|"), min_size=1, max_size=40))
def test_nothing_of_a_z_segment_but_its_name_is_kept(text: str) -> None:
    copy = redact(MESSAGE.format(z=f"ZXY|{text}|{text}"), _hash)
    (line,) = [line for line in copy.split("\r") if line.startswith("ZXY")]
    assert line == "ZXY"
