"""The patient's numbers as an ORU's PID names them: PID-3's repetitions (and PID-2's) as
the candidates the patient is matched by, every number PID-3 holds (none may stay in the
message's id), and PID-4's apart (``read_patient_numbers``)."""

from __future__ import annotations

import hl7

from services.lab_ingestion.adapters.hl7_ack import INTERNAL_ERROR
from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value
from services.lab_ingestion.adapters.hl7_msh import Hl7InputError
from services.lab_ingestion.adapters.hl7_pid3 import ALTERNATE_ID_FIELD, PATIENT_NUMBER_FIELDS
from services.lab_ingestion.domain.model import IdentifierCandidate, RejectionCode
from services.lab_ingestion.domain.number_types import MAX_PATIENT_NUMBERS, patient_number_type


def read_patient_numbers(
    pid: hl7.Segment,
) -> tuple[tuple[IdentifierCandidate, ...], list[str], tuple[IdentifierCandidate, ...]]:
    """PID-3's repetitions of patient number types (``patient_number_type``), each with its
    identifier type (CX-5) and assigning authority (CX-4), a repetition naming an authority
    or a patient number type without a number too (it says the number is missing); and
    every number of PID-3, whatever its type (none may stay in the message's id). PID-2
    (the patient's external id, v2.3 and v2.4: often the hospital's record number when a
    laboratory writes its own in PID-3) is read after PID-3 as more of its repetitions,
    under the same rules (``patient_identity``: types, authorities, ambiguity), so that it
    can name the patient but never choose another one (``PATIENT_NUMBER_FIELDS``).

    ``\\X..\\`` hex escapes are read as UTF-8 (``M\\XC39C\\LLER1`` is MÜLLER1, as the
    enrolment's number is hashed), as the redaction reads them (``hl7_pid3``).

    PID-4 (the alternate patient id, v2.3-2.5.1), its first ``MAX_PATIENT_NUMBERS``
    repetitions, is read apart, the same way (the third tuple): never the patient's number
    (review 190), only a reason to refuse a message whose PID-3 names nobody
    (``alternate_ids``)."""
    counts = [
        (f, len(pid[f]) if len(pid) > f and str(pid[f]) else 0) for f in PATIENT_NUMBER_FIELDS
    ]
    count = sum(c for _, c in counts)
    if count > MAX_PATIENT_NUMBERS:
        fields = "PID-3 repeats" if counts[1][1] == 0 else "PID-3 and PID-2 repeat"
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"{fields} {count} times; at most {MAX_PATIENT_NUMBERS} patient numbers are read",
            condition=INTERNAL_ERROR,  # our own limit (HL7 sets none)
        )
    candidates: list[IdentifierCandidate] = []
    numbers: list[str] = []
    for field, repeats in counts:
        for repeat in range(1, max(repeats, 1) + 1):
            _read_number(pid, field, repeat, candidates, numbers)
    return tuple(candidates), numbers, _alternates(pid)


def _alternates(pid: hl7.Segment) -> tuple[IdentifierCandidate, ...]:
    """PID-4's repetitions of patient number types holding a number, read as PID-3's are;
    one that cannot be read so (an undefined escape, sub-components) is left out: PID-4 was
    never read, and it never makes a message malformed."""
    field = ALTERNATE_ID_FIELD
    repeats = len(pid[field]) if len(pid) > field and str(pid[field]) else 0
    alternates: list[IdentifierCandidate] = []
    for repeat in range(1, min(repeats, MAX_PATIENT_NUMBERS) + 1):
        try:
            _read_number(pid, field, repeat, alternates, [])
        except UnreadableEscape:
            continue
    return tuple(c for c in alternates if c.value)


def _read_number(
    pid: hl7.Segment,
    field: int,
    repeat: int,
    candidates: list[IdentifierCandidate],
    numbers: list[str],
) -> None:
    """One repetition of PID-3 (or PID-2, PID-4) as a candidate, its number among
    ``numbers``."""
    # read strictly: an escape python-hl7 drops would join the digits around it into
    # another number, perhaps another enrolled patient's; and as one value: CX-1 has no
    # sub-components, and ``MRN4711&5`` read as its first is another patient's number
    value = field_value(pid, field, repeat, hex_text=True, strict=True, single=True)
    if value:
        numbers.append(value)
        if not value.isascii():  # also as the message id reads it: one byte a character
            numbers.append(field_value(pid, field, repeat))
    # its type too (CX-5, an ID): ``MR&NN`` read as MR chose which number is the patient's
    kind = patient_number_type(
        field_value(pid, field, repeat, 5, hex_text=True, strict=True, single=True)
    )
    if kind is None:
        return
    authority = field_value(pid, field, repeat, 4, hex_text=True, strict=True)
    universal = field_value(pid, field, repeat, 4, subcomponent=2, hex_text=True, strict=True)
    if value or authority or universal or kind:
        candidates.append(IdentifierCandidate(value, authority, kind, universal))
