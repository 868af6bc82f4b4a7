"""What lab-ingestion reasons about, independent of HL7, FHIR or JSON (pure: no I/O).

Every channel's parser turns its input into a ``LabMessage`` of ``ObservationInput`` items;
normalisation turns each observation into a ``NormalisedResult`` or a ``Rejected`` reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import NamedTuple

# re-exported: the codes lived here, and two hundred modules import them from here
from services.lab_ingestion.domain.codes import (
    RejectionCode as RejectionCode,  # noqa: PLC0414 - re-exported (the comment above)
)
from services.lab_ingestion.domain.codes import (
    ResultStatusCode as ResultStatusCode,  # noqa: PLC0414 - re-exported, as above
)
from services.lab_ingestion.domain.report_fields import ReportField
from shared.contracts.events.lab import Analyte, Channel, Comparator


class StaleBatch(Exception):
    """The stored state a batch was planned on changed before it was written: nothing of the
    batch was stored, and it must be planned again from a fresh read."""


@dataclass(frozen=True)
class Coding:
    code: str
    system: str | None = None
    display: str | None = None
    # a LOINC coding this service added for a local code its sender's table maps
    # (``local_codes``), not one the sender wrote
    translated: bool = False
    # HL7: from OBX-3's second alternate triplet (CWE-10 to 12, v2.7), read since fixer 267
    # (``message_identity.second_alternates_read_before``); a translation of such a code too
    second_alternate: bool = False


@dataclass(frozen=True)
class ObservationInput:
    """One result as a lab sent it, before any interpretation.

    ``result_key`` identifies the result across its corrections and cancellations within a
    source (HL7: filler order number + OBX-3's first code, its identifier else its alternate
    identifier, else its second alternate, as sent (``hl7_obx.key_code``) + OBX-4 sub-id;
    FHIR: the Observation's identifier or id). ``legacy_key``: an HL7 result's key as made
    before 7a953a8, where that differs (OBX-3's identifier empty: ``ORDER||``); unscoped as
    ``unscoped_key`` is (``legacy_keys``).
    """

    result_key: str
    codes: tuple[Coding, ...]
    value: str
    unit: tuple[str, ...] = ()
    # HL7: a bare power base and the OBX-6 component after it (``x10`` and ``12/L``) that a
    # caret written unescaped split, joined no unit listed: the result is refused
    # (``unit_carets``); one listed (``x10^9/L``) is read joined, in ``unit``
    unit_split: tuple[str, str] | None = None
    # HL7: a trial result's OBX-6 original text (CWE-9; CWE-10, 11 of v2.7) of every
    # repetition, compared with ``unit`` as its components are (review 259: never read, a
    # unit there that disagreed was passed over); apart from ``unit``, which a stored
    # message's digest was made of: its resend stays a duplicate
    unit_texts: tuple[str, ...] = ()
    reference_range: str | None = None
    # HL7: OBX-7 as read before eae8c09 (its first component alone), where a unit's plain
    # caret split it and it is read whole now (``1.8-7.5 x10`` of ``1.8-7.5 x10^9/L``): a
    # message stored then was digested so (``message_identity.ranges_read_before``)
    range_before: str | None = None
    abnormal_flag: str | None = None  # the first flag the sender gave (``flags``: all)
    status: str = "F"
    collected_at: datetime | None = None
    reported_at: datetime | None = None
    # a collection time written without a UTC offset, as written (naive): the service reads
    # it in the sender's configured time zone (``in_site_time``)
    collected_local: datetime | None = None
    # the report time (HL7 OBR-22, else OBX-19) written without a UTC offset, likewise
    reported_local: datetime | None = None
    # the field the report time is read from: times of two fields order nothing against
    # each other (``report_fields``; None: not known)
    report_field: ReportField | None = None
    # HL7 OBX-19 (the analysis time, with its UTC offset) where OBR-22 gave the report time:
    # a correction's is compared with a chain timed by OBX-19 alone (review 188)
    analysed_at: datetime | None = None
    # the lab wrote a report time (HL7 OBR-22 or OBX-19, JSON reported_at, FHIR issued),
    # usable or dropped (``reported_at`` None): only one never written is untimed (review 205)
    report_time_written: bool = False
    # HL7 without an order number: the key made of the collection time, before it is made
    # the patient's (``scoped_to_patient``); None for a key of the lab's own
    unscoped_key: str | None = None
    # every abnormal flag the sender gave (HL7 OBX-8 repetitions, FHIR interpretation codes):
    # an off-scale one (``<``, ``>``) makes the value a limit, not a measurement; the most
    # severe is published (``abnormal_flags.most_severe_flag``)
    flags: tuple[str, ...] = ()
    # the value's declared type (HL7 OBX-2), when the sender gave one: a coded answer or a
    # date is no measurement, whatever number its text starts with
    value_type: str = ""
    # what the value sent is when it is there but is no single number, as the sender's
    # format says it (FHIR: ``a Range (Observation.valueRange), not one number: ...``): the
    # result is refused with it (``normalise``), never read as empty (``unobtained``); HL7:
    # a trial result's OBX-5 written with sub-components (``hl7_obx.value_refusal``)
    not_a_number: str | None = None
    # HL7: why its abnormal flags cannot be read (an OBX-8 code written with sub-components,
    # ``&lt;``: ``hl7_obx.flag_refusal``); the result is refused with it, never read unflagged
    flag_refusal: str | None = None
    # read as X because, under a key that never held anything, it changes nothing
    # (``unobtained``): left out over FHIR too, where a sent X finding nothing is refused
    read_as_not_obtained: bool = False
    # the laboratory wrote a comment that concerns the result (HL7 NTE, FHIR
    # Observation.note, the JSON field): its text is never read nor kept (it may name
    # anyone), only that one was written, for a clinician to read it at the hospital
    laboratory_comment: bool = False
    # HL7 OBX-3 repeats, or a code or coding system in it holds sub-components: which of
    # the codes names the test is then a guess when a mapping of a local code names it
    # (``normalise.check_one_analyte``)
    codes_repeat_or_nest: bool = False
    legacy_key: str | None = None
    # HL7: the legacy key (``legacy_key``) is one of the collection time, before it is made
    # the patient's (``scoped_to_patient``): an order numbered in ORC alone was keyed so
    # before review 119
    legacy_unscoped: str | None = None
    # HL7: why the collection times written for the result disagree (OBX-14 or OBR-7 and
    # the specimen's SPM-17; a date in OBX-14 and OBR-7): the result is refused
    # (``normalise``), never placed at one of them
    time_conflict: str | None = None
    # FHIR: the keys of the result's other identifiers (stored with it, by which a later
    # version finds it), and its order numbers' keys as made before review 121 (where a
    # result stored then is); why its identifiers name different stored results, which
    # refuses it (``result_identifiers``)
    other_keys: tuple[str, ...] = ()
    keys_before: tuple[str, ...] = ()
    key_conflict: str | None = None
    # HL7: what says its order is cancelled or deleted as a whole (OBR-25 X, D; ORC-1 OC, CA,
    # ... when OBR-25 is empty), if anything: it contradicts a result holding a value
    # (``order_status``)
    order_cancelled: OrderCancelled | None = None
    # what the sender named the test (HL7 OBX-3's texts, FHIR code.text and the codings'
    # display): read only to refuse a trial analyte coded as none (``analyte_names``),
    # never kept, stored or quoted; HL7 OBX-3's second alternate text (CWE-11) apart: it may
    # add that refusal, never take it away (``analyte_names.unlisted_analyte``)
    names: tuple[str, ...] = ()
    second_alternate_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentifierCandidate:
    """A number the message names its patient by (PHI: hashed, never kept), with its
    identifier type (upper case, "" untyped) and assigning authority: HL7 CX-4's namespace
    and universal ids, FHIR Identifier.system and the assigner's name. ``value`` is "" for
    a repetition that names an authority but holds no number."""

    value: str
    authority: str = ""
    kind: str = ""
    alternate_authority: str = ""

    @cached_property
    def authority_names(self) -> frozenset[str]:
        """The authority's names, compared without case and ``urn:oid:``."""
        names = (authority_name(self.authority), authority_name(self.alternate_authority))
        return frozenset(name for name in names if name)

    @property
    def shown_authority(self) -> str:
        return self.authority or self.alternate_authority


def authority_name(name: str) -> str:
    text = name.strip().casefold()
    return text.removeprefix("urn:oid:")


@dataclass(frozen=True)
class LabMessage:
    """One inbound message. ``patient_identifier`` is PHI: it is hashed at once, never kept.

    ``identifier_candidates`` are the numbers the patient could be matched by (PID-3's
    repetitions of patient number types, FHIR Patient identifiers). ``patient_identifier``
    is the parser's choice among them, None when they are numbers of different assigning
    authorities: only the sender's configured authority can choose then
    (``resolve_patient_identifier``)."""

    channel: Channel
    source_application: str
    source_facility: str
    control_id: str
    patient_identifier: str | None
    observations: tuple[ObservationInput, ...] = field(default=())
    identifier_candidates: tuple[IdentifierCandidate, ...] = field(default=())
    # FHIR: the version's content the control id is made of with the patient's keyed hash
    # (``versioned_control_id``), to make it again once the patient is chosen
    control_id_basis: str | None = None
    # the allowed sender whose site, time zone and identifier authority apply, when not the
    # one the message is kept under: a bound token's FHIR is kept under ``<token>^FHIR``
    # whatever its binding, so that its results' keys never change (``senders.fhir_configured_as``)
    configured_as: tuple[str, str] | None = None
    # HL7: an order cancelled as a whole with no OBX under it: what says so (``OBR-25 X``,
    # ``ORC-1 OC``) and where (``order_status.cancelled_order``)
    cancelled_order: OrderCancelled | None = None
    # HL7: PID-4's numbers (the alternate patient id, v2.3-2.5.1) of patient number types,
    # never the patient's number: read only to refuse a message whose PID-3 names nobody
    # while one of them names a subject (``alternate_ids``)
    alternate_candidates: tuple[IdentifierCandidate, ...] = field(default=())

    @property
    def source(self) -> str:
        return f"{self.source_application}^{self.source_facility}"

    @property
    def settings_key(self) -> tuple[str, str]:
        """The sender whose configuration (site, zone, authority) applies to the message."""
        return self.configured_as or (self.source_application, self.source_facility)


@dataclass(frozen=True)
class NormalisedResult:
    """A result in the protocol's canonical unit, with what the lab originally sent."""

    analyte: Analyte
    loinc: str
    value: float
    unit: str
    original_value: str
    original_unit: str
    reference_low: float | None
    reference_high: float | None
    abnormal_flag: str | None
    # the laboratory commented on it (``ObservationInput.laboratory_comment``): its text is
    # never carried, only that there is one
    laboratory_comment: bool = False
    # set: ``value`` is a limit the laboratory reported (``<0.1``), not a measurement
    # (``censored_values``)
    comparator: Comparator | None = None


class Place(NamedTuple):
    """A field of an HL7 message a rejection names when no OBX is at fault (an order's
    status): segment id, its sequence among the message's segments of that id (1-based),
    and the field."""

    segment: str
    sequence: int
    field: int


class OrderCancelled(NamedTuple):
    """What says an HL7 order is cancelled as a whole (``OBR-25 X``, ``ORC-1 OC``), what
    that means (``order cancelled``), and where (``order_status``)."""

    said: str
    meaning: str
    place: Place


@dataclass(frozen=True)
class Rejected:
    code: RejectionCode
    reason: str
    observation: int | None = None  # the message's observation at fault (0-based), if one is
    place: Place | None = None  # HL7: the field at fault, when it is no OBX's

    def at(self, index: int | None) -> Rejected:
        """This rejection, naming the message's observation (0-based) that caused it."""
        return replace(self, observation=index)
