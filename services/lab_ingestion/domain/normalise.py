"""One observation as a lab sent it -> a result in the canonical unit (PROTOCOL section 6).

Pure: no I/O. Observations of analytes the trial does not follow yield None (the caller
ignores them); unusable trial results yield a ``Rejected`` with a bounded code and a reason
that never echoes free text (a value field may carry a comment, and comments may carry PHI).

How a number is written (a thousands separator, or a decimal mark?) is ``lab_numbers``'s;
a count per microlitre has no decimals, and a platelet count there none below an analyser's
resolution (``plausibility``).

The abnormal flag published is the most severe of those given (``abnormal_flags``): OBX-8
repeats, and ``N~LL`` is a critical result, not a normal one.

A censored value (``<10``, ``>200``, or a number flagged off the instrument's scale: OBX-8 or
a FHIR interpretation ``<`` or ``>``) is published as its limit with its comparator, never as
the number alone (``censored_values``): ``<10`` read as 10 is not a CRP response, ``<0.5``
neutrophils read as 0.5 is grade 3 instead of 4. A negative value is no measurement of any
trial analyte, nor is one above its plausibility ceiling (``plausibility``; a limit
likewise), and a value with more significant digits than a binary float keeps (15) could
round across a threshold.
"""

from __future__ import annotations

from typing import Final

from services.lab_ingestion.domain.abnormal_flags import (
    check_flag_fits_value,
    check_flags_agree,
    flag_codes,
    most_severe_flag,
)
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODE,
    identify_analyte,
    names_another_trial_analyte,
    other_tests,
)
from services.lab_ingestion.domain.analytes import (
    DEFAULT_UNIT_PARAMETERS,
    UnitConversion,
    UnitParameters,
    resolve_unit,
)
from services.lab_ingestion.domain.local_codes import mapped_codes, translated_analyte
from services.lab_ingestion.domain.measured_values import measurement, non_numeric
from services.lab_ingestion.domain.model import (
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.reference_ranges import (
    parse_reference_range,
    range_unit,
    reference_range_of,
)
from services.lab_ingestion.domain.shown import CODING_SYSTEM, shown
from services.lab_ingestion.domain.unit_carets import split_unit_refusal
from services.lab_ingestion.domain.unit_slips import (
    check_flag_fits_any_range,
    check_range_fits_unit,
)
from shared.contracts.events.lab import Analyte, Comparator

__all__ = [
    "DEFAULT_UNIT_PARAMETERS", "UnitParameters", "normalise", "parse_reference_range",
    "range_unit",
]  # fmt: skip

# HL7 OBX-2 value types whose text may be a measurement (SN: read as structured numeric)
MEASURED_VALUE_TYPES: Final = frozenset({"NM", "SN", "ST", "TX", "FT"})
# HL7 table 0125 (value types, v2.3 to 2.5.1; NR, a numeric range, since v2.4): the only
# OBX-2 text a reason quotes; anything else there (a name, a number) is told by its length
HL7_VALUE_TYPES: Final = frozenset({
    "AD", "CE", "CF", "CK", "CN", "CNE", "CP", "CWE", "CX", "DR", "DT", "DTM", "ED", "FT",
    "ID", "IS", "MA", "MO", "NA", "NM", "NR", "PN", "RP", "SN", "ST", "TM", "TN", "TS", "TX",
    "XAD", "XCN", "XON", "XPN", "XTN",
})  # fmt: skip


def normalise(
    observation: ObservationInput, params: UnitParameters = DEFAULT_UNIT_PARAMETERS
) -> NormalisedResult | Rejected | None:
    """The observation in its analyte's canonical unit; None if it is not a trial analyte."""
    identified = identify_analyte(observation.codes)
    if identified is None:
        return None
    analyte, loinc = identified
    ambiguous = check_one_analyte(observation)
    if ambiguous is not None:
        return ambiguous
    untimed = _untimed(observation, analyte)
    if untimed is not None:
        return untimed
    conversion = _unit_of(analyte, observation, params)
    if isinstance(conversion, Rejected):
        return conversion
    measured = measurement(analyte, observation, conversion)
    if isinstance(measured, Rejected):
        return measured
    return _result(observation, loinc, conversion, measured, params)


def _unit_of(
    analyte: Analyte, observation: ObservationInput, params: UnitParameters
) -> UnitConversion | Rejected:
    """The value's unit; a value of no single number is refused as such (a FHIR Range was
    told it was empty, a coded value, FHIR's or of an OBX-2 CE, that it had no unit: review
    157) and an empty one as empty, not as missing its unit (a FHIR dataAbsentReason alone
    was told its valueQuantity had no unit: review 121); an HL7 unit split by an unescaped
    caret into no listed unit, by its cause (``unit_carets``). An HL7 unit's original text
    (``unit_texts``) is compared with its other components (review 259)."""
    if observation.not_a_number is not None:
        return non_numeric(f"{analyte.value} value is {observation.not_a_number}")
    if not observation.value.strip():
        return non_numeric(f"{analyte.value} value is empty")
    value_type = observation.value_type.strip().upper()
    if value_type and value_type not in MEASURED_VALUE_TYPES:
        return non_numeric(
            f"{analyte.value} value is of type {_show_value_type(value_type)} (OBX-2), not a number"
        )
    if observation.unit_split is not None:  # which unit was meant is a guess
        return split_unit_refusal(analyte, observation.unit_split)
    return resolve_unit(analyte, (*observation.unit, *observation.unit_texts), params)


def _untimed(observation: ObservationInput, analyte: Analyte) -> Rejected | None:
    """Why the result cannot be placed in time: its collection times written disagree
    (``ObservationInput.time_conflict``), or it has none."""
    if observation.time_conflict is not None:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_TIME, f"{analyte.value} result: {observation.time_conflict}"
        )
    if observation.collected_at is None:
        return Rejected(
            RejectionCode.MISSING_COLLECTION_TIME, f"{analyte.value} result has no collection time"
        )
    return None


def _result(
    observation: ObservationInput,
    loinc: str,
    conversion: UnitConversion,
    measured: tuple[float, Comparator | None, float],
    params: UnitParameters,
) -> NormalisedResult | Rejected:
    """The result measured (its value in the canonical unit, or a limit and comparator), with
    its reference range and the most severe of its flags (``abnormal_flags``), unless its
    flags contradict each other or its value and range (a unit slip: ``LL`` on a value above
    the range), or its range and flag tell its unit label is wrong (``unit_slips``)."""
    value, comparator, number = measured
    analyte = conversion.analyte
    # every flag the sender gave (OBX-8's repetitions, FHIR's interpretation codings)
    flags = flag_codes((observation.abnormal_flag, *observation.flags))
    contradicted = check_flags_agree(analyte, flags)
    if contradicted is not None:
        return contradicted
    unit = conversion.canonical_unit
    mislabelled = check_range_fits_unit(
        analyte,
        observation.reference_range,
        conversion,
        number,
        params,
        as_written=observation.value,
    )
    if mislabelled is not None:
        return mislabelled
    low, high = reference_range_of(analyte, observation.reference_range, conversion, params)
    if low is None and high is None:
        unfit = check_flag_fits_any_range(
            analyte, flags, value, unit=unit, comparator=comparator, as_written=observation.value
        )
    else:
        unfit = check_flag_fits_value(
            analyte,
            flags,
            value,
            low,
            high,
            unit=unit,
            comparator=comparator,
            as_written=observation.value,
        )
    if unfit is not None:
        return unfit
    return NormalisedResult(
        analyte=analyte,
        loinc=loinc,
        value=value,
        unit=unit,
        original_value=observation.value.strip(),
        original_unit=conversion.source_text,
        reference_low=low,
        reference_high=high,
        abnormal_flag=most_severe_flag(flags),
        laboratory_comment=observation.laboratory_comment,
        comparator=comparator,
    )


def check_one_analyte(observation: ObservationInput) -> Rejected | None:
    """Why a result whose LOINC codes name different tests is not one (None if they name
    one, or no trial analyte): read as the code of a trial analyte, a platelet count would
    be published as neutrophils, a direct bilirubin graded as total bilirubin. The reason
    quotes the codes written as LOINC codes are, and nothing else of the message."""
    others = other_tests(observation.codes)
    mapped = translated_analyte(observation.codes)
    if not others:
        if mapped and observation.codes_repeat_or_nest:
            return Rejected(
                RejectionCode.AMBIGUOUS_ANALYTE,
                "the result's test is named by a mapping of the laboratory's own code, but "
                "its OBX-3 repeats or holds sub-components: which code names the test cannot "
                "be told; send one code (and its alternate)",
            )
        return None
    identified = identify_analyte(observation.codes)
    assert identified is not None  # other_tests names none without a trial analyte
    by_mapping = mapped_codes(observation.codes)  # the laboratory never wrote these
    elsewhere = {  # another trial analyte's code under another system's name: which one
        c.code.strip(): (c.system or "").strip()
        for c in reversed(observation.codes)
        if names_another_trial_analyte(c, identified[0])
    }
    codes = ", ".join(
        shown(code, LOINC_CODE)
        + (" mapped from the laboratory's own code" if code in by_mapping else "")
        + (
            f" under coding system {shown(elsewhere[code], CODING_SYSTEM)}"
            if code in elsewhere and code not in by_mapping
            else ""
        )
        for code in dict.fromkeys((identified[1], *others))  # each once
    )
    return Rejected(
        RejectionCode.AMBIGUOUS_ANALYTE,
        f"the result's LOINC codes name different tests ({codes}): one test per result, "
        "under its own code",
    )


def _show_value_type(code: str) -> str:
    """An HL7 value type (table 0125) itself, anything else only by its length: a short word
    there may be a name (``SMITH``)."""
    return repr(code) if code in HL7_VALUE_TYPES else f"(code of {len(code)} characters)"
