"""The value, unit and reference range of a FHIR R4 Observation, written as HL7 v2 writes them
(OBX-5, OBX-6, OBX-7), so that one normaliser reads every channel alike."""

from __future__ import annotations

from decimal import Decimal

from fhir.resources.R4B.observation import (
    Observation,
    ObservationComponent,
    ObservationReferenceRange,
)
from fhir.resources.R4B.quantity import Quantity

from services.lab_ingestion.domain.abnormal_flags import is_off_scale
from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from services.lab_ingestion.domain.unit_words import units_named


def observation_value(
    obs: Observation | ObservationComponent,
) -> tuple[str, tuple[str, ...]]:
    """The value as text and its unit's spellings (of an Observation, or of a component:
    whether it holds a measurement); "" for a value of no single number
    (``value_not_a_number`` tells it) and for none."""
    if obs.valueQuantity is not None:
        quantity = obs.valueQuantity
        text = _decimal(quantity.value)
        return (f"{quantity.comparator or ''}{text}" if text else ""), _units(quantity)
    if obs.valueString is not None:
        return obs.valueString, ()
    if obs.valueInteger is not None:
        return str(obs.valueInteger), ()
    if obs.valueBoolean is not None:
        return ("true" if obs.valueBoolean else "false"), ()
    if obs.valueCodeableConcept is not None:
        concept = obs.valueCodeableConcept
        codes = [c.code for c in concept.coding or [] if c.code]
        return (codes[0] if codes else concept.text or ""), ()
    return "", ()


# value[x] types holding no single number, as a reason names them (valueInteger is one: what
# it lacks is a unit, and it is refused for that)
_NOT_NUMBERS = (
    ("valueRange", "a Range"), ("valueRatio", "a Ratio"), ("valueSampledData", "SampledData"),
    ("valueTime", "a time"), ("valueDateTime", "a dateTime"), ("valuePeriod", "a Period"),
    ("valueCodeableConcept", "a code"), ("valueBoolean", "a boolean"),
)  # fmt: skip
NOT_ONE_NUMBER = (
    "not one number: send the measurement in valueQuantity.value (a limit with "
    "valueQuantity.comparator)"
)


def value_not_a_number(obs: Observation) -> str | None:
    """What the Observation's value is when it is there but is no single number, naming its
    type and element (``ObservationInput.not_a_number``: the result is refused with it):
    a Range, Ratio, SampledData, time, dateTime, Period, code or boolean, or a Quantity with
    a comparator and no value (review 157: each was read as empty, so left out as not
    obtained beside another result). None for a number, a text, and for a Quantity of
    neither value nor comparator, which is empty (as an empty OBX-5)."""
    quantity = obs.valueQuantity
    if quantity is not None and quantity.value is None and quantity.comparator:
        return f"a comparator without a number (Observation.valueQuantity), {NOT_ONE_NUMBER}"
    for element, kind in _NOT_NUMBERS:
        if getattr(obs, element) is not None:
            return f"{kind} (Observation.{element}), {NOT_ONE_NUMBER}"
    return None


# UCUM named by its address or its OID: its codes are the computable unit
UCUM_SYSTEMS = frozenset({"http://unitsofmeasure.org", "urn:oid:2.16.840.1.113883.6.8"})


def _units(quantity: Quantity) -> tuple[str, ...]:
    """The unit's code and its display. A UCUM code is the computable unit: one this service
    does not know is unconvertible whatever the display says (``10*6/L`` shown as ``10^9/L``
    would be read as the display, a thousandfold guess), so it goes alone; so does a code
    whose system is not said (FHIR requires one: ``mg/100mL`` shown as ``mg/L`` was read as
    the display, 20 mg/dL stored as 20 mg/L). A laboratory's own code system says nothing
    this service can read: its display is the unit as the laboratory writes it, as in an
    HL7 OBX-6 (and a display that disagrees with a code this service knows is refused)."""
    code = (quantity.code or "").strip()
    system = (quantity.system or "").strip().rstrip("/")
    if code and not recognise_unit(code) and (not system or system in UCUM_SYSTEMS):
        return (code,)
    return tuple(dict.fromkeys(u for u in (quantity.code, quantity.unit) if u))


def _decimal(value: object) -> str:
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    # plain notation as labs write it; huge exponents stay scientific (bounded length)
    return format(number, "f") if abs(number.adjusted()) <= 20 else str(number)


def reference_range(obs: Observation) -> str | None:
    """The range as HL7 writes it, with its own unit (``12-16 g/dL``: converted as that unit
    is, not as the value's). Only the one normal range for everyone is read: several, or one
    for a population or age (``appliesTo``, ``age``: the patient's is not known here), or
    another kind of range, leave none; so does one whose quantities name different units, or
    whose one bound names a unit and the other none (never borrowed)."""
    ranges = [ref for ref in obs.referenceRange or [] if _is_normal_range_for_all(ref)]
    unit = _range_unit(ranges[0]) if len(ranges) == 1 else None
    if unit is None:
        return None
    ref = ranges[0]
    low = _decimal(ref.low.value if ref.low else None)
    high = _decimal(ref.high.value if ref.high else None)
    if low and high:
        return f"{low}-{high}{unit}"
    if high:
        return f"<{high}{unit}"
    if low:
        return f">{low}{unit}"
    return ref.text or None


def _range_unit(ref: ObservationReferenceRange) -> str | None:
    """`` unit`` as written after a range's numbers, "" for none, None when its bounds
    disagree (two units, or a unit on one bound only) or a code and display do (``10*9/L``
    shown as ``%``, a unit this service does not list: the range is not read in either).
    One unit spelt two ways (``10*9/L`` shown as ``10*3/uL``) is that unit. A display in
    words is read as the value's is (``unit_words``): ``milligrams per decilitre``, ``mg per
    dL``, ``mg/dL (milligrams per decilitre)`` beside code ``mg/L`` name another unit, and
    words that cannot be read as one unit (``milligrams per litre of serum``) any unit: the
    range is dropped (review 261: ULN 1 mg/L was published where the display said 1 mg/dL,
    and a ULN of 0.8 so read refused the whole result as a unit slip); words naming the
    code's unit (``milligrams per litre``), or none (``CRP``), are read as before."""
    bounds = [q for q in (ref.low, ref.high) if q is not None]
    if len({bool(_units(q)) for q in bounds}) > 1:
        return None
    written = sorted({u for q in bounds for u in _units(q)})
    known = sorted({ucum for u in written if (ucum := recognise_unit(u)) is not None})
    # a unit's shape not listed, unless it names the code's unit (``Milligramm/Liter``,
    # ``1000/µl`` beside 10*9/L: read as the value's display is; review 265)
    unlisted = [
        u for u in written
        if recognise_unit(u) is None and names_a_unit(u)
        and not (known and _words_name(u, known[0]))
    ]  # fmt: skip
    if not _one_unit(known) or (known and unlisted):  # 10*9/L shown as %: which, cannot be told
        return None
    words = [u for u in written if recognise_unit(u) is None and not names_a_unit(u)]
    if known and not all(_words_name(text, known[0]) for text in words):
        return None  # mg/L shown as milligrams per decilitre: which, cannot be told
    # an unknown unit is kept too: the range is then dropped, never read in the value's unit
    return f" {known[0]}" if known else (f" {written[0]}" if written else "")


def _words_name(text: str, unit: str) -> bool:
    """Whether a display that is not written as a unit names ``unit`` (a listed unit) or no
    unit at all: every unit its words or symbols name (``units_named``) is ``unit``, by its
    listed spelling or by its dimension and factor. Words that cannot be read as one unit
    name none that can be trusted (False)."""
    named = units_named(text)
    return named is not None and all(_one_unit(sorted({unit, _listed(n)})) for n in named)


def _listed(unit: str) -> str:
    """A unit words name, as the service lists it when it does (``10^9/L`` is ``10*9/L``),
    else in standard form (compared by its factor)."""
    return recognise_unit(unit) or recognise_unit(standard_form(unit)) or standard_form(unit)


def _one_unit(known: list[str]) -> bool:
    """Whether listed units are one unit, spelt one way or several (``10*9/L`` and
    ``10*3/uL``: the same factor and dimension), as a value's code and unit are compared
    (review 180: a range so written was dropped while its value was read)."""
    factors = {unit_factor(standard_form(unit)) for unit in known}
    return len(known) <= 1 or (len(factors) == 1 and None not in factors)


REFERENCE_RANGE_MEANINGS = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"


def _is_normal_range_for_all(ref: ObservationReferenceRange) -> bool:
    """A range of no population or age, and of no kind or the normal kind."""
    if ref.appliesTo or ref.age is not None:
        return False
    if ref.type is None:
        return True
    codings = ref.type.coding or []
    return bool(codings) and all(
        c.code == "normal" and (c.system or REFERENCE_RANGE_MEANINGS) == REFERENCE_RANGE_MEANINGS
        for c in codings
    )


# HL7's own interpretation codes: v3 ObservationInterpretation and v2 table 0078, by their R4
# and STU3 addresses and their OIDs
INTERPRETATION_SYSTEMS = frozenset({
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://hl7.org/fhir/v3/ObservationInterpretation", "urn:oid:2.16.840.1.113883.5.83",
    "http://terminology.hl7.org/CodeSystem/v2-0078", "http://hl7.org/fhir/v2/0078",
    "urn:oid:2.16.840.1.113883.12.78",
})  # fmt: skip


def interpretation_codes(obs: Observation) -> tuple[str, ...]:
    """Every interpretation code that is a flag of the result, as OBX-8's repetitions are
    (the most severe is published: ``abnormal_flags``): those of HL7's code systems or of
    none, and an off-scale ``<`` or ``>`` of any system (a local one still marks a limit).
    A laboratory's own code system's other codes are none (``interpretation_flag``)."""
    return tuple(
        str(coding.code)
        for concept in obs.interpretation or []
        for coding in concept.coding or []
        if coding.code
        and (
            not coding.system
            or coding.system in INTERPRETATION_SYSTEMS
            or is_off_scale(str(coding.code))
        )
    )


def interpretation_flag(obs: Observation) -> str | None:
    """The first interpretation code of HL7's code systems, or of a coding naming none, as
    OBX-8's first repetition (a message's identity reads it; the flag published is the
    most severe of ``interpretation_codes``). A laboratory's own code system's code is never
    it: its ``N`` beside HL7's ``HH`` would publish a critical result as normal."""
    for concept in obs.interpretation or []:
        for coding in concept.coding or []:
            if coding.code and (not coding.system or coding.system in INTERPRETATION_SYSTEMS):
                return str(coding.code)
    return None


def laboratory_comment(obs: Observation) -> bool:
    """Whether the Observation carries a note with text (``Observation.note``): a
    laboratory's comment on the result ("platelet clumps seen"), which a clinician reads at
    the hospital before acting on the value. Its text is never read further (it may name
    anyone): only that there is one is carried (``ObservationInput.laboratory_comment``)."""
    return any((note.text or "").strip() for note in obs.note or [])
