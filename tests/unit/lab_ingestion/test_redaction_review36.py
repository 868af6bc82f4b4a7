"""Review 36: what the kept copies of rejected inputs, and the ids they are known by, kept of
a patient (a number run into an id, a number spelt otherwise, a street's or a double name's
words, a birth date written with slashes, a message id built from personal values)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.secret_spellings import date_spellings
from services.lab_ingestion.domain.matching import numbers_masked
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.commands import IngestLabMessage, RecordRejectedInput
from services.lab_ingestion.service_layer.kept_copy_text import kept_message_id
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from services.lab_ingestion.service_layer.unprocessable import keep_unprocessable
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.unit.lab_ingestion.hl7_samples import fake_hash, join, msh, seg
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    MRN,
    PATIENT,
    bundle,
    hash_identifier,
    observation,
)
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor
from tests.unit.lab_ingestion.test_replay import RecordingIngest, keyed_hash, read_copy
from tests.unit.lab_ingestion.test_unprocessable import FakeIngest

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OBX = seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "4.2", 6: "umol/L", 11: "F"})


def hl7(pid: dict[int, str], note: str, control_id: str = "C-1") -> str:
    return join([msh(control_id=control_id), seg("PID", {1: "1", 3: "M4711^^^H^MR", **pid}),
                 seg("OBR", {1: "1", 3: "F1", 7: "20261120070000+0000"}), OBX,
                 seg("NTE", {1: "1", 3: note})])  # fmt: skip


def note_of(copy_: str) -> str:
    return copy_.rsplit("\r", maxsplit=1)[-1]


# --- 1. a hospital number run into a JSON or FHIR id ---------------------------------------


def test_a_number_run_into_json_ids_is_masked_as_the_accepted_path_masks_it() -> None:
    body = copy.deepcopy(JSON_BODY)
    body["message_id"], body["results"][0]["result_id"] = f"MSG{MRN}", f"{MRN}001"
    redacted = redact_json(body, hash_identifier)
    masked = numbers_masked([MRN], hash_identifier)  # as mask_identifier_in_id
    assert redacted["message_id"] == masked(f"MSG{MRN}") == f"MSG#{hash_identifier(MRN)[:12]}"
    assert redacted["results"][0]["result_id"] == masked(f"{MRN}001")
    assert MRN not in json.dumps(redacted)


def test_a_number_run_into_fhir_ids_and_references_is_masked() -> None:
    resource = observation(id=f"OBS{MRN}", identifier=[{"value": f"{MRN}001"}],
                           derivedFrom=[{"reference": f"Observation/OBS{MRN}"}])  # fmt: skip
    sent = bundle("batch", resource)
    sent["entry"][0]["fullUrl"] = f"https://lab.example/Observation/OBS{MRN}"
    entry = redact_fhir(sent, hash_identifier)["entry"][0]
    masked = numbers_masked([MRN], hash_identifier)
    kept = entry["resource"]
    assert (kept["id"], kept["identifier"][0]["value"]) == (
        masked(f"OBS{MRN}"),
        masked(f"{MRN}001"),
    )
    assert kept["derivedFrom"][0]["reference"] == f"Observation/{masked(f'OBS{MRN}')}"
    assert entry["fullUrl"].endswith(masked(f"OBS{MRN}"))
    assert kept["subject"]["identifier"]["value"] == hash_identifier(MRN)  # whole, as before


# --- 4. a number written as it is hashed ---------------------------------------------------


FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) for c in "ZZMRN123987")  # as NFKC folds it


@pytest.mark.parametrize("pid3", ["ZZMRN 123987", FULL_WIDTH])
def test_a_number_quoted_as_it_is_hashed_is_scrubbed(pid3: str) -> None:
    copied = redact(hl7({3: f"{pid3}^^^H^MR"}, "MRN ZZMRN123987 confirmed"), fake_hash)
    assert "ZZMRN123987" not in copied
    resource = observation(subject={"identifier": {"value": pid3}},
                           method={"text": "MRN zzmrn123987 confirmed"})  # fmt: skip
    assert "123987" not in json.dumps(redact_fhir(resource, hash_identifier))
    body = {**copy.deepcopy(JSON_BODY), "patient": {"identifier": pid3, "note": "x"},
            "message_id": "ZZMRN123987"}  # fmt: skip
    assert "123987" not in json.dumps(redact_json(body, hash_identifier))


# --- 5. a street's words, a double name's parts --------------------------------------------


def test_the_words_of_a_street_line_and_the_parts_of_a_double_name_are_scrubbed() -> None:
    pid = {5: "MÜLLER-MEIER^HANS-PETER", 11: "ZZSTREET 12^Haus Sonnenberg^Bern^^3000^CH"}
    note = "Müller, Peter (Hans-Peter) at home, ZZSTREET; sonnenberg; Street closed; 1988-5"
    copied = redact(hl7(pid, note), fake_hash)
    kept = note_of(copied)
    for secret in ("Müller", "Peter", "Hans", "ZZSTREET", "sonnenberg"):
        assert secret.lower() not in kept.lower(), kept
    assert "Street closed; 1988-5" in kept  # no generic street word, no code
    assert OBX in copied.split("\r")  # the unit, the LOINC code and the value stay


def test_fhir_scrubs_a_patient_street_lines_words_and_a_double_names_parts() -> None:
    patient = {**PATIENT, "name": [{"family": "Müller-Meier", "given": ["Hans-Peter"]}],
               "address": [{"line": ["Zzstreet 12"], "city": "Bern"}]}  # fmt: skip
    resource = observation(method={"text": "Meier, Peter; zzstreet; main street"})
    redacted = redact_fhir(bundle("batch", patient, resource), hash_identifier)
    text = redacted["entry"][1]["resource"]["method"]["text"]
    assert text == "[redacted], [redacted]; [redacted]; main street"


# --- 6. one list of date spellings ---------------------------------------------------------


@pytest.mark.parametrize("spelling", date_spellings("1933", "03", "17"))
def test_every_redactor_scrubs_a_birth_date_in_the_same_spellings(spelling: str) -> None:
    assert spelling not in note_of(redact(hl7({7: "19330317"}, f"DOB {spelling}"), fake_hash))
    patient = {**PATIENT, "birthDate": "1933-03-17"}
    resource = observation(method={"text": f"DOB {spelling}"})
    assert spelling not in json.dumps(redact_fhir(bundle("batch", patient, resource), fake_hash))


# --- 2. the id a rejected HL7 message is known by ------------------------------------------

PHI_ID = hl7({5: "DOE^JANE", 7: "19600101"}, "note", control_id="DOE-19600101")


async def test_a_rejection_is_known_by_its_copys_message_id() -> None:
    """As its copy's MSH-10: neither the name nor the birth date put back."""
    message, _ = parse_oru(PHI_ID, identify=fake_hash)
    command = IngestLabMessage(message, lambda: redact(PHI_ID, fake_hash), AT)
    db = FakeDatabase()  # the sender LABSYS^NORTHLAB is not allowed: rejected, recorded
    await ingestor(db)([command])
    ((topic, event),) = db.events
    assert (topic, event.payload["message_control_id"]) == (LAB_REJECTED, None)  # no sender id
    failed = FakeIngest()  # a poison message, kept
    await keep_unprocessable(failed, command, transient=TRANSIENT_DB_ERRORS)
    (kept,) = failed.stored
    assert isinstance(kept, RecordRejectedInput) and kept.control_id == "[redacted]-[redacted]"


def rejection(text: str) -> KeptRejection:
    message, _ = parse_oru(text, identify=keyed_hash)
    copied = redact(text, keyed_hash)
    patient = keyed_hash("M4711")
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LABSYS^NORTHLAB",
        kept_message_id(copied, message.control_id), "unknown-source", "not allowed", copied,
        AT, patient, content_digest(message, patient), None, None,
    )  # fmt: skip


def test_a_copy_known_by_its_message_id_is_replayed_but_not_one_whose_id_was_scrubbed() -> None:
    replayer = Replayer(read_copy, RecordingIngest())
    escaped = rejection(hl7({}, "note", control_id=r"C\T\1"))  # an escaped separator
    assert escaped.control_id == r"C\T\1"  # as written in the copy
    assert replayer.check(escaped).control_id == r"C\T\1"  # kept escaped (never C&1's id)
    with pytest.raises(ReplayRefused, match="scrubbed from the kept copy"):
        replayer.check(rejection(PHI_ID))
