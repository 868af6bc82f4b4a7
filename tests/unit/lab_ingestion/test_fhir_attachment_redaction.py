"""Encoded data and attachments in a rejected FHIR payload's kept copy (``fhir_elements``):
every base64Binary element is dropped (an Attachment's data wherever the Attachment sits,
Binary.data), and an Attachment's url and title, which may name the patient, go too, their
copies elsewhere scrubbed; what identifies nobody (contentType, language) is kept."""

from __future__ import annotations

import base64
import json

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir

REPORT = base64.b64encode(b"Report of HUBERMANN ROSWITHA, born 17.03.1951").decode()
TITLE = "Befund Hubermann Roswitha"
URL = "https://lis.example/reports/Hubermann-Roswitha.pdf"


def _hash(_: str) -> str:
    return "ab" * 32


def _attachment() -> dict[str, str]:
    return {"contentType": "application/pdf", "language": "de", "data": REPORT,
            "url": URL, "title": TITLE}  # fmt: skip


def test_a_reports_presented_form_keeps_only_what_identifies_nobody() -> None:
    report = {"resourceType": "DiagnosticReport", "status": "final",
              "code": {"text": f"Laboratory report ({TITLE})"},
              "presentedForm": [_attachment()]}  # fmt: skip
    kept = redact_fhir(report, _hash)
    assert "presentedForm" not in kept  # the printed report: never kept (review 121)
    assert kept["code"]["text"] == "Laboratory report ([redacted])"


def test_an_observations_attachment_value_and_a_binary_keep_no_data() -> None:
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": "report"}, "valueAttachment": _attachment()}  # fmt: skip
    binary = {"resourceType": "Binary", "contentType": "application/pdf", "data": REPORT}
    kept = json.dumps([redact_fhir(observation, _hash), redact_fhir(binary, _hash)])
    assert REPORT not in kept and URL not in kept and TITLE not in kept, kept
    assert redact_fhir(binary, _hash) == {
        "resourceType": "Binary",
        "contentType": "application/pdf",
    }


def test_an_attachment_in_a_bundle_entry_is_dropped_too() -> None:
    document = {"resourceType": "DocumentReference", "status": "current",
                "content": [{"attachment": _attachment()}]}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": document}]}  # fmt: skip
    kept = redact_fhir(bundle, _hash)
    assert kept["entry"][0]["resource"]["content"] == [
        {"attachment": {"contentType": "application/pdf", "language": "de"}}
    ]
