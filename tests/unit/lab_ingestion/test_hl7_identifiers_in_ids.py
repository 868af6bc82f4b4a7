"""Every number a message identifies someone by is masked where it is run into an id
(MSH-10, ORC-2/3, OBR-2/3, SPM-2) of a kept copy, as PID-3's are (review 185: an SSN in
PID-19, an account in PID-18, a visit number in PV1-19, a prior number in MRG-1, a next of
kin's phone... run into MSH-10 or an order number were kept verbatim, in the rejection's
control id too); and the county (PID-12) and birth place (PID-23), blanked in PID, are
scrubbed wherever a note or an id repeats them, as a name's words are."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import redact

HASH = "ab" * 32
MASK = f"#{HASH[:12]}"


def pid(index: int | None = None, value: str = "") -> str:
    fields = ["PID", "1", "", "MRN4711^^^HOSP^MR", "", "DOE^JOHN", "", "19510317", "M"]
    fields += [""] * 25
    if index is not None:
        fields[index] = value
    return "|".join(fields)


def message(patient: str, id_part: str, segment: str = "") -> str:
    return "\r".join([
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M{id_part}9|P|2.5.1",
        patient, *([segment] if segment else []),
        f"ORC|RE|P{id_part}|F{id_part}",
        f"OBR|1|P{id_part}|F{id_part}X|LAB^Lab panel|||20261120081500+0100||||||note {id_part} x",
        f"NTE|1||Kommentar {id_part}.",
        "OBX|1|NM|1988-5^Test^LN||12|furlongs|||||F|||20261120081500+0100",
        f"SPM|1|S{id_part}",
    ])  # fmt: skip


def ids_of(kept: str) -> list[str]:
    """MSH-10, ORC-2/3, OBR-2/3 and SPM-2 of a kept copy."""
    lines = {line[:3]: line.split("|") for line in kept.split("\r")}
    return [lines["MSH"][9], *lines["ORC"][2:4], *lines["OBR"][2:4], lines["SPM"][2]]


@pytest.mark.parametrize(
    ("patient", "segment", "number"),
    [
        (pid(18, "ACCT77665544"), "", "ACCT77665544"),  # PID-18 account
        (pid(19, "123-45-6789"), "", "123-45-6789"),  # PID-19 SSN, as written
        (pid(19, "123-45-6789"), "", "123456789"),  # and as its digits
        (pid(19, "123456789"), "", "123456789"),
        (pid(20, "DL99887766^CH"), "", "DL99887766"),  # PID-20 driver's licence
        (pid(21, "MOTHERID4455^^^HOSP^MR"), "", "MOTHERID4455"),  # PID-21 mother's id
        (pid(), "PV1|1|O" + "|" * 17 + "VISIT55443322", "VISIT55443322"),  # PV1-19 visit
        (pid(), "MRG|OLDMRN5566^^^HOSP^MR", "OLDMRN5566"),  # MRG-1 prior number
        (pid(), "NK1|1|DOE^JANE|SPO||031 777 66 55", "0317776655"),  # a next of kin's phone
        (pid(13, "031 999 88 77"), "", "0319998877"),  # the patient's own
    ],
)
def test_an_identifier_run_into_ids_is_masked_as_pid3s_numbers(
    patient: str, segment: str, number: str
) -> None:
    kept = redact(message(patient, number, segment), lambda _: HASH)
    assert number not in kept
    assert all(MASK in value for value in ids_of(kept)), ids_of(kept)


def test_pid3_typed_ss_is_masked_as_before() -> None:
    patient = "PID|1||MRN4711^^^HOSP^MR~756.1234.5678.97^^^CH^SS||DOE^JOHN||19510317|M"
    kept = redact(message(patient, "7561234567897"), lambda _: HASH)
    assert "7561234567897" not in kept and ids_of(kept)[0] == f"M{MASK}9"


def test_a_word_without_a_digit_is_no_number_searched_for_in_ids() -> None:
    kept = redact(message(pid(), "NOTE", "MRG|UNKNOWN"), lambda _: HASH)
    assert ids_of(kept) == ["MNOTE9", "PNOTE", "FNOTE", "PNOTE", "FNOTEX", "SNOTE"]


@pytest.mark.parametrize("index", [12, 23])  # county, birth place
def test_a_place_of_the_patients_is_scrubbed_where_repeated_in_free_text(index: int) -> None:
    """In a note and OBR-13 as a whole word; ids are left as they are (review 190: an id,
    a code or the sender's name often names the hospital's city, where patients are born)."""
    kept = redact(message(pid(index, "EMMENTAL"), "EMMENTAL"), lambda _: HASH)
    assert "Kommentar [redacted]." in kept and "note [redacted] x" in kept
    assert ids_of(kept) == ["MEMMENTAL9", "PEMMENTAL", "FEMMENTAL", "PEMMENTAL", "FEMMENTALX",
                            "SEMMENTAL"]  # fmt: skip
    assert "PID|1||HMAC:" in kept and "EMMENTAL" not in kept.split("\r")[1]


SENDERS = [("LIS", "BERN", "Bern"), ("USZ^Zürich", "LAB", "Zürich"),
           ("LABOR BASEL", "HOSP", "BASEL"), ("LIS", "THUN^1.2.756^ISO", "Thun")]  # fmt: skip


@pytest.mark.parametrize(("application", "facility", "place"), SENDERS)
@pytest.mark.parametrize("index", [12, 23])
def test_a_place_of_the_patients_never_touches_the_sender_codes_or_units(
    application: str, facility: str, place: str, index: int
) -> None:
    """Review 190: a birth place Bern made ``LIS|BERN`` ``LIS^[redacted]``, the rejection's
    source no listed sender (its replay refused); ``LABOR BASEL`` ``LABOR [redacted]``."""
    text = "\r".join([
        f"MSH|^~\\&|{application}|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(index, place),
        f"OBR|1|P1|F1|{place}^{place} panel^L|||20261120081500+0100",
        f"OBX|1|ST|{place}^{place} code^L||born in {place}|{place}|||||F",
        f"NTE|1||Geburtsort {place}, Wohnort {place}.",
    ])  # fmt: skip
    lines = redact(text, lambda _: HASH).split("\r")
    assert lines[0].split("|")[2:4] == [application, facility]
    # a code's text is free text (review 192), its code and coding system kept where a
    # replay reads them (OBX-3, OBX-6); OBR-4 is read by none (review 207)
    assert lines[2].split("|")[4] == "[redacted]^[redacted] panel^L"
    obx = lines[3].split("|")
    assert obx[3] == f"{place}^[redacted] code^L" and obx[6] == place
    assert obx[5] == "born in [redacted]"
    assert lines[4] == "NTE|1||Geburtsort [redacted], Wohnort [redacted]."
