"""An HL7 result key names the test by the first code the sender wrote in OBX-3: its
identifier, else its alternate identifier (``hl7_obx.key_code``). Keyed by the identifier
alone, every result of an order whose code was only in the alternate triplet had one key
(``ORD1||``), and the second was refused as the first's test changed; a key whose identifier
is written stays as it was (stored chains are found by it), one whose identifier is empty
keeps the key it had (``legacy_keys``: results stored under it are found by it)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_obx import key_code
from services.lab_ingestion.domain.local_codes import (
    LocalCodeTable,
    checked_local_code,
    with_local_codes,
)
from services.lab_ingestion.domain.model import Coding
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|ALT-1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR"
TS = "20261120081500+0100"
NEUT = f"OBX|1|NM|^Neut^^751-8^Neut^LN||0.4|10*9/L|||||F|||{TS}"
PLT = f"OBX|2|NM|^PLT^^777-3^PLT^LN||250|10*9/L|||||F|||{TS}"
ORDER = f"OBR|1|PLC1|ORD1|LAB^Lab panel|||{TS}"
TABLE = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "CRP", "1988-5")])


def keys(*obx: str, obr: str = ORDER) -> list[str]:
    message, _ = parse_oru("\r".join([MSH, PID, obr, *obx]), local_codes=TABLE)
    return [o.result_key for o in message.observations]


def legacy_keys(*obx: str) -> list[str | None]:
    message, _ = parse_oru("\r".join([MSH, PID, ORDER, *obx]), local_codes=TABLE)
    return [o.legacy_key for o in message.observations]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([Coding("1988-5", "LN")], "1988-5"),
        ([Coding("CRP", "L"), Coding("1988-5", "LN")], "CRP"),  # the identifier, as before
        ([Coding(""), Coding("751-8", "LN")], "751-8"),  # no identifier: the alternate
        ([Coding(""), Coding("1988-5", "LN", translated=True)], ""),  # never a translation
        ([Coding(""), Coding("CRP", "L"), Coding("1988-5", "LN", translated=True)], "CRP"),
        ([Coding("")], ""),
        ([], ""),
    ],
)
def test_the_key_code_is_the_first_code_the_sender_wrote(
    codes: list[Coding], expected: str
) -> None:
    assert key_code(codes) == expected


def test_results_coded_only_in_the_alternate_identifier_have_a_key_each() -> None:
    assert keys(NEUT, PLT) == ["ORD1|751-8|", "ORD1|777-3|"]


async def test_both_are_stored_and_a_correction_finds_its_result() -> None:
    """Through the service layer (its fake database): both results stored, where the second
    was refused "the result under this key is neutrophils, not platelets"; the platelets'
    correction supersedes the platelets, the neutrophils stand."""
    db = FakeDatabase(enrolled={"h(MRN9)": "S-1"})
    first = await ingest_hl7(db, "\r".join([MSH, PID, ORDER, NEUT, PLT]))
    assert (first.accepted, first.results) == (True, 2), first.reason
    correction = PLT.replace("|250|", "|180|").replace("||F|", "||C|")
    second = await ingest_hl7(
        db, "\r".join([MSH.replace("ALT-1", "ALT-2"), PID, ORDER, correction])
    )
    assert (second.accepted, second.results) == (True, 1), second.reason
    standing = {r.result.analyte: r.result.value for r in db.results if r.result_id not in
                {s.supersedes_result_id for s in db.results}}  # fmt: skip
    assert standing == {Analyte.NEUTROPHILS: 0.4, Analyte.PLATELETS: 180.0}


@pytest.mark.parametrize(
    ("obx3", "expected"),
    [
        ("751-8^Neut^LN", "ORD1|751-8|"),
        ("751-8^Neut^LN^NEUT^Neut^L", "ORD1|751-8|"),
        ("NEUT^Neut^L^751-8^Neut^LN", "ORD1|NEUT|"),  # the identifier, not the LOINC code
    ],
)
def test_a_key_whose_identifier_is_written_is_unchanged(obx3: str, expected: str) -> None:
    assert keys(f"OBX|1|NM|{obx3}||0.4|10*9/L|||||F|||{TS}") == [expected]
    assert legacy_keys(f"OBX|1|NM|{obx3}||0.4|10*9/L|||||F|||{TS}") == [None]


@pytest.mark.parametrize("obx3", ["^Neut^^751-8^Neut^LN", '""^Neut^^751-8^Neut^LN'])
def test_a_key_whose_identifier_is_empty_changed_and_keeps_its_old_one(obx3: str) -> None:
    """HL7's explicit null is no code: keyed by the alternate code now, ``ORD1||`` before,
    which results stored then are found by (``legacy_keys``)."""
    assert keys(f"OBX|1|NM|{obx3}||0.4|10*9/L|||||F|||{TS}") == ["ORD1|751-8|"]
    assert legacy_keys(f"OBX|1|NM|{obx3}||0.4|10*9/L|||||F|||{TS}") == ["ORD1||"]


def test_a_mapped_local_code_in_the_alternate_identifier_keys_as_sent() -> None:
    """``^C-reactive protein^^CRP^^L`` mapped to 1988-5: keyed by ``CRP``, the sender's
    code, which its correction writes too; never by the LOINC code the mapping added."""
    message, _ = parse_oru(
        "\r".join([MSH, PID, ORDER,
                   f"OBX|1|NM|^C-reactive protein^^CRP^^L||42|mg/L|||||F|||{TS}"]),
        local_codes=TABLE,
    )  # fmt: skip
    (observation,) = message.observations
    assert observation.result_key == "ORD1|CRP|"
    assert any(c.translated and c.code == "1988-5" for c in observation.codes)


def test_without_an_order_number_the_alternate_code_keys_the_collection_time() -> None:
    message, _ = parse_oru("\r".join([MSH, PID, f"OBR|1||||||{TS}", NEUT, PLT]), identify=fake_hash)
    got = [(o.unscoped_key, o.result_key) for o in message.observations]
    assert [unscoped for unscoped, _ in got] == [
        "@2026-11-20T07:15:00+00:00|751-8|",
        "@2026-11-20T07:15:00+00:00|777-3|",
    ]
    assert all(key == f"{unscoped}|{fake_hash('')[:16]}" for unscoped, key in got)


_CODINGS = st.lists(
    st.builds(
        Coding,
        st.sampled_from(["", "CRP", "751-8", "1988-5", "NEUT"]),
        st.sampled_from([None, "L", "LN"]),
    ),
    max_size=4,
)


@FAST
@given(_CODINGS)
def test_a_mapping_never_changes_the_key_code(codes: list[Coding]) -> None:
    assert key_code(with_local_codes(codes, TABLE.of_sender("LIS", "HOSP"))) == key_code(codes)
