"""Review 39 (4): a rejection copy keeps an abnormal flag only when it is a code (HL7 table
0078, FHIR's ObservationInterpretation); free text there (a name) is masked, in HL7 OBX-8
(every repetition, component and sub-component), a JSON result's ``abnormal_flag`` (and its
other coded fields) and a FHIR interpretation's code, display and text. An HL7 copy whose
flags are all codes is unchanged and replays; one whose flag was masked is refused."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.adapters.hl7_scrub_fields import masked_flags
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.redaction import REDACTED
from services.lab_ingestion.domain.abnormal_flags import ABNORMAL_FLAGS, published_flag
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.hl7_samples import FAST, join, msh, seg
from tests.unit.lab_ingestion.route_fakes import JSON_BODY, hash_identifier, observation
from tests.unit.lab_ingestion.test_replay import RecordingIngest, keyed_hash, read_copy

SEPARATORS = ("|", "^", "~", "\\", "&")


def hl7(flags: str) -> str:
    return join([
        msh(control_id="C-9"),
        seg("PID", {1: "1", 3: "MRN9^^^HOSP^MR", 5: "DOE^JANE"}),
        seg("OBR", {1: "1", 3: "F9", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "42", 6: "mg/L", 8: flags, 11: "F"}),
    ])  # fmt: skip


def obx8(copy_: str) -> str:
    return next(line for line in copy_.split("\r") if line.startswith("OBX")).split("|")[8]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Meier Anna", REDACTED),
        ("H~Meier Anna~<", f"H~{REDACTED}~<"),
        ("H^High^HL70078", f"H^{REDACTED}^{REDACTED}"),
        ("Meier&H^LL", f"{REDACTED}&H^LL"),
        ("M\\XFC\\LLER", REDACTED),  # MÜLLER
        ("\\Meier Anna\\", REDACTED),  # no escape python-hl7 knows: read as nothing
        ("\\X48\\", REDACTED),  # H, but a code is never written with escapes
        ('h~ N ~~""', 'h~ N ~~""'),  # codes in any case, blanks, HL7's null: as sent
    ],
)
def test_an_hl7_flag_keeps_only_its_codes(sent: str, kept: str) -> None:
    assert obx8(redact(hl7(sent), keyed_hash)) == kept


@given(st.lists(st.sampled_from(sorted(ABNORMAL_FLAGS)) | st.text("abcXYZ &^~\\-", max_size=8),
                max_size=4))  # fmt: skip
@FAST
def test_every_piece_of_a_masked_flag_is_a_code_a_blank_or_the_mask(pieces: list[str]) -> None:
    value = "~".join(pieces)
    masked = masked_flags(value, SEPARATORS)
    for piece in masked.replace("^", "~").replace("&", "~").split("~"):
        assert piece == REDACTED or not piece.strip() or published_flag(piece), masked
    assert masked_flags(masked, SEPARATORS) == masked


def kept_rejection(message_text: str) -> KeptRejection:
    message, _ = parse_oru(message_text, identify=keyed_hash)
    patient_hmac = keyed_hash("MRN9")
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LABSYS^NORTHLAB", message.control_id,
        "unknown-source", "sender not allowed", redact(message_text, keyed_hash),
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC), patient_hmac,
        content_digest(message, patient_hmac), None, None,
    )  # fmt: skip


def test_a_copy_whose_flags_are_codes_replays() -> None:
    rejection = kept_rejection(hl7("L~<"))
    assert obx8(rejection.payload) == "L~<"
    message = Replayer(read_copy, RecordingIngest()).check(rejection)
    assert message.observations[0].flags == ("L", "<")


def test_a_copy_masked_only_where_nothing_is_read_replays() -> None:
    """The digest covers the first flag as sent; the others only tell an off-scale value,
    which a masked text never is: the copy says what the message said."""
    rejection = kept_rejection(hl7("H^High~Meier Anna"))
    assert obx8(rejection.payload) == f"H^{REDACTED}~{REDACTED}"
    message = Replayer(read_copy, RecordingIngest()).check(rejection)
    assert message.observations[0].abnormal_flag == "H"


def test_a_copy_whose_flag_was_masked_is_not_replayed() -> None:
    rejection = kept_rejection(hl7("Meier Anna"))
    with pytest.raises(ReplayRefused, match="redaction changed what it says"):
        Replayer(read_copy, RecordingIngest()).check(rejection)


def test_a_json_results_coded_fields_keep_only_codes() -> None:
    body = copy.deepcopy(JSON_BODY)
    body["results"] = [
        {**body["results"][0], "abnormal_flag": "Hans Muster", "status": "Muster",
         "loinc": "Hans 1988-5"},
        {**body["results"][0], "result_id": "R2", "abnormal_flag": 4711815},
        {**body["results"][0], "result_id": "R3", "abnormal_flag": "hh"},
    ]  # fmt: skip
    first, second, third = redact_json(body, hash_identifier)["results"]
    assert (first["abnormal_flag"], first["status"], first["loinc"]) == (REDACTED,) * 3
    assert second["abnormal_flag"] == REDACTED
    assert (third["abnormal_flag"], third["status"], third["loinc"]) == ("hh", "final", "1988-5")


def test_a_fhir_interpretation_keeps_only_flag_codes() -> None:
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    interpretation = [
        {"coding": [{"system": system, "code": "Hans Muster", "display": "Meier"},
                    {"system": system, "code": "H", "display": "High"}], "text": "Anna"},
        {"coding": {"code": "LL"}},  # a Coding where a list belongs
    ]  # fmt: skip
    resource = observation(interpretation=interpretation, status="Muster")
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["interpretation"] == [
        {"coding": [{"system": system, "code": REDACTED, "display": REDACTED},
                    {"system": system, "code": "H", "display": REDACTED}], "text": REDACTED},
        {"coding": {"code": "LL"}},
    ]  # fmt: skip
    assert redacted["status"] == REDACTED
    assert redact_fhir(observation(), hash_identifier)["status"] == "final"
