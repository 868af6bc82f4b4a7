"""No personal value of the patient in kept copies of rejected HL7 and FHIR messages, nor
in what a rejection is announced and listed under, through the running service.

Each message names the enrolled patient (``MRN``) with a CRP in a unit the trial cannot
convert (``furlongs``: AE, kept), so what is checked is only what the kept copy holds.
PROTOCOL section 6: a rejected message is kept "with its identifying fields redacted (PID-5
name, PID-7 birth date, PID-11 address, PID-13/14 phones, PID-19 SSN ... blanked)"; README
("Rejections"): kept copies hold no PHI, every other copy of a removed name, identifier,
birth date, phone or address scrubbed from the rest of the message.
"""

from __future__ import annotations

import base64
import re

import aiohttp
import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN, TS, msa
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

FAMILY, GIVEN, BIRTH = "HUBERMANN", "ROSWITHA", "19510317"
STREET, CITY, PHONE, AHV = "Seeblickweg 12", "Oberwilhausen", "0419998877", "756.1234.5678.97"
PERSONAL = (FAMILY, GIVEN, BIRTH, "17.03.1951", STREET, CITY, PHONE, AHV, MRN)
MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{}|P|2.5.1"
OBR = f"OBR|1|PLC1|{{}}|LAB^Lab panel|||{TS}"
CRP = f"OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F|||{TS}"  # AE: a unit the trial cannot read


def _pid(address: str = f"{STREET}^^{CITY}^^6000^CH") -> str:
    return (
        f"PID|1||{MRN}^^^HOSP^MR||{FAMILY}^{GIVEN}^^^^^L||{BIRTH}|F|||{address}||{PHONE}||||||{AHV}"
    )


async def _kept_after(lab: Lab, message: str, control_id: str) -> str:
    client = await lab.mllp()
    ack = await client.exchange(message)
    await client.close()
    assert msa(ack)[1:3] == ["AE", control_id], ack
    payload: str = await lab.pool.fetchval("SELECT payload FROM rejections")
    assert payload, "the rejection keeps a copy"
    return payload


def _leaks(text: str) -> list[str]:
    return [value for value in PERSONAL if value.lower() in text.lower()]


def _decoded_base64_runs(text: str) -> str:
    """Every run of base64 text in ``text`` (an HL7 ED value's data, a FHIR attachment's),
    decoded as whoever reads the copy would decode it."""
    found = []
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            found.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("latin-1"))
        except ValueError:
            continue
    return "\n".join(found)


async def test_a_report_embedded_as_an_ed_observation_keeps_no_personal_value(lab: Lab) -> None:
    """A laboratory's ORU often carries its printed report as a base64 PDF in an OBX of value
    type ED (HL7 v2.5.1 LRI); the report names the patient one decode away. The kept copy
    keeps only the ED's codes (``[redacted]^application^pdf^Base64^[redacted]``)."""
    report = (
        f"Patient: {FAMILY} {GIVEN}, born 17.03.1951, {STREET}, {CITY}, tel {PHONE}, "
        f"AHV {AHV}, MRN {MRN}. CRP 12."
    )
    data = base64.b64encode(report.encode()).decode()
    ed = f"OBX|2|ED|11502-2^Laboratory report^LN||LAB^application^pdf^Base64^{data}||||||F"
    message = "\r".join([MSH.format("R77-ED"), _pid(), OBR.format("ORD1"), CRP, ed]) + "\r"
    payload = await _kept_after(lab, message, "R77-ED")
    assert data not in payload, "the embedded report is kept as the lab sent it"
    assert not _leaks(_decoded_base64_runs(payload)), _decoded_base64_runs(payload)


async def test_a_raw_line_break_inside_pid_keeps_no_rest_of_the_pid(lab: Lab) -> None:
    """A two-line address written with a raw line break inside PID-11 (as a registration
    form's text box gives it): the service reads the message (the line break ends the
    segment for the parser too) and rejects the CRP's unit; the line after the break is no
    segment, so it is redacted as the rest of PID (city, phone, AHV number blanked)."""
    pid = _pid(address=f"{STREET}\nFlat 3^^{CITY}^^6000^CH")
    message = "\r".join([MSH.format("R77-LF"), pid, OBR.format("ORD2"), CRP]) + "\r"
    payload = await _kept_after(lab, message, "R77-LF")
    assert not _leaks(payload), payload


async def test_a_pid_segment_after_a_no_break_space_keeps_no_personal_value(lab: Lab) -> None:
    """A PID line that begins with a no-break space (a message pasted from a mail or a web
    form): the parser does not read it as PID (rejected, no patient identifier), but the
    redaction does, and blanks it."""
    message = "\r".join([MSH.format("R77-NB"), "\u00a0" + _pid(), OBR.format("ORD3"), CRP])
    client = await lab.mllp()
    ack = await client.exchange(message + "\r")
    await client.close()
    assert msa(ack)[1] in ("AE", "AR"), ack
    rows = await lab.pool.fetch("SELECT source, control_id, reason, payload FROM rejections")
    assert rows, "a message whose patient cannot be read is kept as a rejection"
    kept = "\n".join(str(value) for row in rows for value in row.values())
    assert not _leaks(kept), kept


async def test_an_hl7_message_refused_at_the_http_edge_keeps_no_name_in_its_source(
    lab: Lab,
) -> None:
    """MSH-3 holding a copy of the patient's name, sent to ``/v1/hl7`` and refused while its
    header is read (a training message, MSH-11 ``T``; the same holds for a charset, size or
    escape error), by a sender not on the allow-list: the rejection's source, its
    ``lab.rejected.v1`` event's and what ``cachexia rejection list`` shows are its kept
    copy's MSH-3^MSH-4, scrubbed, as for a rejection of an unknown sender."""
    header = (
        f"MSH|^~\\&|{FAMILY} {GIVEN}|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|R77-T|T|2.5.1"
    )
    text = "\r".join([header, _pid(), OBR.format("ORD4"), CRP.replace("furlongs", "mg/L")])
    headers = {"Authorization": f"Bearer {lab.lab_token}",
               "Content-Type": "x-application/hl7-v2+er7"}  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/hl7", data=(text + "\r").encode(), headers=headers) as answer,
    ):
        assert answer.status < 500, await answer.text()
        assert "AR" in await answer.text()
    row = await lab.pool.fetchrow("SELECT source, reason_code, reason, payload FROM rejections")
    assert row is not None and row["reason_code"] == "unsupported-processing-id", row
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert FAMILY not in row["payload"]  # the kept copy's MSH-3 is scrubbed...
    assert not _leaks(str(row["source"])), row["source"]  # ...its source is not
    assert not _leaks(str(row["reason"])), row["reason"]
    assert not _leaks(str(event.payload.get("source"))), event.payload


async def test_a_fhir_report_attachment_keeps_no_personal_value(lab: Lab) -> None:
    """The FHIR form of the same report: a transaction with the CRP Observation and its
    DiagnosticReport, whose ``presentedForm`` (an Attachment) holds the printed report as
    base64. The kept copy drops the attachment's data (as it drops a Patient's name)."""
    report = f"Patient: {GIVEN} {FAMILY}, born 17.03.1951, {STREET}, {CITY}, AHV {AHV}. CRP 12."
    data = base64.b64encode(report.encode()).decode()
    subject = {"identifier": {"system": "urn:hosp", "value": MRN}}
    crp = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R77-F1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": subject, "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 12, "unit": "furlongs"},
    }  # fmt: skip
    diagnostic_report = {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": subject, "result": [{"reference": "urn:uuid:crp"}],
        "presentedForm": [{"contentType": "application/pdf", "data": data}],
    }  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:crp", "resource": crp,
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:report", "resource": diagnostic_report,
         "request": {"method": "POST", "url": "DiagnosticReport"}},
    ]}  # fmt: skip
    headers = {"Authorization": f"Bearer {lab.lab_token}",
               "Content-Type": "application/fhir+json"}  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir", json=bundle, headers=headers) as answer,
    ):
        assert 400 <= answer.status < 500, await answer.text()
    payloads = [r["payload"] for r in await lab.pool.fetch("SELECT payload FROM rejections")]
    assert payloads, "the refused transaction is kept"
    kept = "\n".join(payloads)
    assert data not in kept, "the printed report is kept as the lab sent it"
    assert not _leaks(_decoded_base64_runs(kept)), _decoded_base64_runs(kept)
