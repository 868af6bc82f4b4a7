"""Review 108: personal values a kept copy of a rejected HL7 message kept, through the real
MLLP socket: a value inside an escape sequence HL7 does not define (``\\Z..\\``, a ``\\C``
that is no hex), a birth date PID-7 writes in another form than ``YYYYMMDD``, and a phone
written in XTN's components or, in a note, with blanks and a country code. Each message
names the enrolled patient with a CRP in a unit the trial cannot convert (``furlongs``:
AE, kept), and both the copy (``rejections.payload``) and what ``cachexia rejection show``
prints are checked."""

from __future__ import annotations

import argparse
import re
import uuid

import pytest

from cachexia.rejections import run_rejection_command
from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN, TS, msa
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{}|P|2.5.1"
OBR = f"OBR|1|PLC1|ORD1|LAB^Lab panel|||{TS}"
CRP_FURLONGS = f"OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F|||{TS}"  # AE: kept
PID = f"PID|1||{MRN}^^^HOSP^MR||HUBERMANN^ROSWITHA^^^^^L||{{birth}}|F|||||{{phone}}"


def _message(control_id: str, *rest: str, birth: str = "19510317", phone: str = "") -> str:
    pid = PID.format(birth=birth, phone=phone)
    return "\r".join([MSH.format(control_id), pid, OBR, *rest]) + "\r"


async def _kept(
    lab: Lab, capsys: pytest.CaptureFixture[str], message: str, answer: str = "AE"
) -> str:
    """The rejection's copy and what ``cachexia rejection show`` prints of it."""
    client = await lab.mllp()
    try:
        ack = await client.exchange(message)
    finally:
        await client.close()
    assert msa(ack)[1] == answer, ack
    (row,) = await lab.pool.fetch("SELECT rejection_id, payload FROM rejections")
    args = argparse.Namespace(command="rejection", rejection_command="show",
                              rejection_id=uuid.UUID(str(row["rejection_id"])))  # fmt: skip
    assert await run_rejection_command(lab.settings, args) == 0
    return f"{row['payload']}\n{capsys.readouterr().out}"


async def test_values_inside_escapes_hl7_does_not_define_are_not_kept(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A locally defined escape (``\\Z..\\``) and a character set escape that is no hex
    (``\\CHUBERMANN\\``) run their code letter into the value, so no whole-word copy was
    found, and python-hl7 reads them as nothing, so no copy as it reads either."""
    note = f"NTE|1||Rueckfrage \\Z{MRN}\\ \\ZHUBERMANN\\ \\Z19510317\\"
    other = "OBX|2|ST|9999-9^Kommentar^L||\\CHUBERMANN\\||||||F"
    kept = await _kept(lab, capsys, _message("R108-Z", CRP_FURLONGS, other, note))
    leaks = [v for v in (MRN, "HUBERMANN", "19510317") if v in kept]
    assert not leaks, (leaks, kept)
    assert "NTE|1||Rueckfrage \\Z[redacted]\\ \\Z[redacted]\\ \\Z[redacted]\\" in kept, kept


async def test_a_trial_value_refused_for_its_escape_keeps_no_name_inside_it(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CRP's OBX-5 ``1\\ZZWYSSIGMANN\\2``: refused (``AR``: an escape HL7 does not
    define cannot be read), kept with the escape's content masked."""
    crp = f"OBX|1|NM|1988-5^CRP^LN||1\\ZZWYSSIGMANN\\2|mg/L|||||F|||{TS}"
    message = _message("R108-M", crp).replace("HUBERMANN", "ZWYSSIGMANN")
    kept = await _kept(lab, capsys, message, "AR")
    assert "WYSSIGMANN" not in kept, kept
    assert "||1\\Z[redacted]\\2|mg/L|" in kept, kept


@pytest.mark.parametrize("birth", ["1958-02-14", "14.02.1958", "1958/02/14"])
async def test_a_birth_date_not_written_as_yyyymmdd_is_not_kept_elsewhere(
    lab: Lab, capsys: pytest.CaptureFixture[str], birth: str
) -> None:
    """PID-7 written as an ISO or European date (converters from FHIR or web forms write
    it so): PID-7 is blanked, and its copies in a note, in any common spelling, go too;
    the note's lab values stay."""
    spellings = ("14.02.1958", "1958-02-14", "14.2.1958", "19580214", "14.02.58", "02/14/1958")
    note = f"NTE|1||Pat. geb. {birth} ({' / '.join(spellings)}); CRP 14.02, Hb 14.2"
    kept = await _kept(lab, capsys, _message("R108-D", CRP_FURLONGS, note, birth=birth))
    leaks = [v for v in (birth, *spellings) if v in kept]
    assert not leaks, (leaks, kept)
    assert "; CRP 14.02, Hb 14.2" in kept, kept


@pytest.mark.parametrize(
    ("phone", "note"),
    [
        ("^PRN^PH^^^031^9998877", "Rueckruf an Patientin unter 0319998877"),  # XTN-6, -7
        ("^PRN^PH^^41^31^9998877", "Rueckruf unter 031 999 88 77 oder +41 31 999 88 77"),
        ("0319998877", "Rueckruf unter 031 999 88 77, 031.999.88.77 oder 0041 31 999 88 77"),
        ("0319998877", "Rueckruf unter +41 (0)31 999-88-77 oder (031) 999 88 77"),
    ],
    ids=["area-and-local", "country-area-local", "spaced-and-dotted", "parentheses"],
)
async def test_a_phone_is_not_kept_elsewhere_however_it_is_written(
    lab: Lab, capsys: pytest.CaptureFixture[str], phone: str, note: str
) -> None:
    """PID-13 as v2.5.1 writes it (area code in XTN-6, local number in XTN-7) or as one
    number; the note writes it as one dials it, in groups, with a country code or not.
    Its lab values stay."""
    values = "; CRP 12.5 mg/L, Tc 250 000/uL, 06.12.2026"
    message = _message("R108-T", CRP_FURLONGS, f"NTE|1||{note}{values}", phone=phone)
    kept = await _kept(lab, capsys, message)
    assert "9998877" not in re.sub(r"[ ./()+-]", "", kept), kept
    assert values in kept, kept


async def test_a_number_run_into_an_unknown_sender_is_not_kept(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """MSH-3/4 of a sender not on the allow-list are anyone's to write: the patient's number
    run into them (``LIS4711...``) was kept in the copy, and so in the rejection's source,
    its reason, ``rejection list`` and the ``lab.rejected.v1`` event built from the copy."""
    message = _message("R108-S", CRP_FURLONGS).replace("|LIS|HOSP|", f"|LIS{MRN}|HOSP{MRN}|", 1)
    kept = await _kept(lab, capsys, message, answer="AR")
    row = await lab.pool.fetchrow("SELECT source, reason FROM rejections")
    (event,) = await lab.events(LAB_REJECTED, 1)
    shown = f"{kept}\n{row['source']}\n{row['reason']}\n{event.payload}"
    assert MRN not in shown, shown
    assert row["source"].startswith("LIS#") and "^HOSP#" in row["source"]
