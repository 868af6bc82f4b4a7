"""Review 70 (mutation testing): PHI redaction rules that no test pinned.

- FHIR: a Patient's ``contact`` (next of kin) is dropped, and its phone and address become
  secrets scrubbed wherever else they occur (as PID's NK1 phones are). Without the
  ``texts(contact telecom, address)`` call, a kin's phone copied into a kept text stayed.
- HL7: PV1-19 (visit number) is blanked, as PROTOCOL-style docs of ``redact`` say
  ("PV1-19/50 (visit numbers) blanked"); with only PV1-50 blanked no test failed (a
  visit number of one or two characters is no secret to scrub and stayed as sent)."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_redaction import redact
from tests.unit.lab_ingestion.route_fakes import (
    PATIENT,
    PATIENT_URL,
    bundle,
    hash_identifier,
    observation,
)
from tests.unit.lab_ingestion.test_redaction import text_of


def _with_kin() -> dict[str, Any]:
    return PATIENT | {
        "contact": [
            {
                "name": {"family": "Roe", "given": ["Jane"]},
                "telecom": [{"system": "phone", "value": "079 555 12 34"}],
                "address": {"line": ["Kirchgasse 7"], "city": "Wangen an der Aare"},
            }
        ]
    }


def test_a_patient_contacts_phone_and_address_are_scrubbed_from_other_entries() -> None:
    other = observation(
        subject={"reference": PATIENT_URL},
        method={"text": "kin on 079 555 12 34, Kirchgasse 7, Wangen an der Aare; drawn"},
    )
    redacted = redact_fhir(bundle("batch", _with_kin(), other), hash_identifier)
    text = text_of(redacted)
    for phi in ("079 555 12 34", "Kirchgasse 7", "Wangen an der Aare", "Roe"):
        assert phi not in text, phi
    assert "contact" not in redacted["entry"][0]["resource"]


def test_a_patient_contacts_phone_is_scrubbed_in_the_resource_itself() -> None:
    """A contained Patient beside its Observation (one resource, no Bundle)."""
    resource = observation(method={"text": "phoned 079 555 12 34"})
    resource["contained"] = [_with_kin() | {"id": "p1"}]
    resource["subject"] = {"reference": "#p1"}
    text = text_of(redact_fhir(resource, hash_identifier))
    assert "079 555 12 34" not in text


_SEP = "\r"


def _hl7(pv1_19: str) -> str:
    return _SEP.join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120083000+0100||ORU^R01^ORU_R01|M1|P|2.5.1",
        "PID|1||MRN-4711-0815^^^HOSP^MR||SMITH^JOHN||19610304|M",
        "PV1|1|I|W1^12^1||||||||||||||||" + pv1_19,
        "OBR|1||ORD1|1988-5^CRP^LN|||20261120080000+0100",
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000+0100",
    ]) + _SEP  # fmt: skip


def _pv1_field(redacted: str, index: int) -> str:
    (pv1,) = [s for s in redacted.split(_SEP) if s.startswith("PV1|")]
    fields = pv1.split("|")
    return fields[index] if index < len(fields) else ""


def test_pv1_19_the_visit_number_is_blanked_whatever_its_length() -> None:
    for visit in ("V8812345", "42", "V1^^^HOSP^VN"):
        redacted = redact(_hl7(visit), hash_identifier)
        assert _pv1_field(redacted, 19) == "", (visit, redacted)
        assert _pv1_field(redacted, 2) == "I"  # the rest of PV1 is kept


def test_a_phone_given_only_as_xtn12_unformatted_is_scrubbed_from_notes() -> None:
    """PID-13's XTN-12 (unformatted telephone number, v2.5) is read for secrets as XTN-1,
    -4 and -7 are: a copy of the number in an NTE is replaced."""
    text = _SEP.join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120083000+0100||ORU^R01^ORU_R01|M1|P|2.5.1",
        "PID|1||MRN-4711-0815^^^HOSP^MR||SMITH^JOHN||19610304|M|||||^PRN^PH^^^^^^^^^0791234567",
        "OBR|1||ORD1|1988-5^CRP^LN|||20261120080000+0100",
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000+0100",
        "NTE|1||patient asks to be called on 0791234567 with the result",
    ]) + _SEP  # fmt: skip
    redacted = redact(text, hash_identifier)
    assert "0791234567" not in redacted, redacted
    assert "with the result" in redacted
