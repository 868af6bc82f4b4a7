"""One OBX segment read as an ``ObservationInput`` (``read_observation``): its codes, with
the sender's local code mappings applied first (``with_local_codes``), decide whether it is
a trial result, read strictly, or another test's, read leniently."""

from __future__ import annotations

from collections.abc import Mapping

import hl7

from services.lab_ingestion.adapters.hl7_collection import collection_time
from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import (
    field_value,
    has_subcomponents,
    later_repetitions,
    repeats,
)
from services.lab_ingestion.adapters.hl7_obx import (
    SECOND_ALTERNATE_NAME,
    codes_of,
    codes_repeat_or_nest,
    flag_refusal,
    flags_of,
    key_code,
    names_of,
    ranges_of,
    refuse_nested_codes,
    value_of,
    value_refusal,
)
from services.lab_ingestion.adapters.hl7_order import Order, report_time
from services.lab_ingestion.adapters.hl7_time import key_time, read_ts
from services.lab_ingestion.adapters.hl7_units import UnitReading, unit_reading, units_of
from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.local_codes import LocalKey, with_local_codes
from services.lab_ingestion.domain.model import ObservationInput
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.domain.result_status import NO_RESULT


def _holds_no_result(obx: hl7.Segment) -> bool:
    """Whether OBX-11 says the observation holds no result (``NO_RESULT``); never one written
    with sub-components (``I&F``, read as I: a trial result's is refused as malformed when
    read as one value, rather than left out as pending by its first part; review 179)."""
    return field_value(obx, 11).strip().upper() in NO_RESULT and not has_subcomponents(obx, 11)


def read_observation(
    obx: hl7.Segment,
    order: Order,
    offset: str,
    mapped: Mapping[LocalKey, str],
    specimens: tuple[str, ...] = (),
) -> ObservationInput:
    """``specimens``: SPM-17.1 of each SPM of the observation's order (``hl7_collection``)."""
    refuse_nested_codes(obx)  # any OBX's: ``4548-4&1988-5`` may hide a CRP (review 118)
    sent = codes_of(obx)
    codes = with_local_codes(sent, mapped)
    mapped_read = len(codes) > len(sent)  # a mapping of the sender's may name the test
    # a trial result's fields are read strictly (``field_value``): its code, number, unit,
    # times, status and key, and its order's; an observation with no result (OBX-11 I, O,
    # N) is left out as another test's is, so read as leniently (its text cannot cost the
    # message's other results)
    trial = identify_analyte(codes) is not None and not _holds_no_result(obx)
    if trial:
        if order.unreadable:
            raise UnreadableEscape(order.unreadable)
        codes_of(obx, strict=True)  # raises on a code read through a dropped escape
    # another test's unit is read as before (never its original text: its digest's sake)
    units = unit_reading(obx) if trial else UnitReading(units_of(obx), None, ())
    # OBX-14 when present, even if unusable (a bad OBX-14 is no licence to take OBR-7), but
    # a date alone that OBR-7 or SPM-17 agrees with; checked against SPM-17
    written = field_value(obx, 14, strict=trial, single=trial)
    collected_text, (collected, local), conflict = collection_time(
        written, order, specimens, offset
    )
    # the release time: OBR-22 (``order_of``); OBX-19, the analysis time in v2.5 (no field
    # of v2.3 or v2.4), only when OBR-22 is empty. Without an offset, read as OBX-14 is
    # (which, stored with the result: times of the two order nothing against each other)
    analysed = None
    if order.reported_text:
        reported, reported_local = order.reported
        report_field, report_text = ReportField.OBR_22, order.reported_text
        if len(obx) > 19:  # OBX-19 beside it (most senders end OBX at OBX-14)
            analysed = report_time(obx, 19, offset)[1][0]
    else:
        report_text, (reported, reported_local) = report_time(obx, 19, offset)
        report_field = ReportField.OBX_19
    order_key = order.key
    untracked = not order_key
    if untracked:  # no order number: the collection time tells one order from the next
        order_key = f"@{key_time(collected_text, collected, local)}"  # parse_oru adds whose
    value_type = field_value(obx, 2, strict=trial, single=trial).upper()
    value = value_of(obx, value_type, trial=trial)
    if repeats(obx, 5):  # "5~50": two values, no number (a trial result is then rejected)
        later = later_repetitions(obx, 5, 4, strict=trial)
        value = "~".join([value, *("^".join(p).rstrip("^") for p in later)])
    code, sub_id = key_code(sent), field_value(obx, 4, strict=trial, single=trial)
    key = f"{order_key}|{code}|{sub_id}"
    # keyed by OBX-3's identifier alone before (``ORDER||`` where it was empty or ""): the
    # key its results stored then are under (``legacy_keys``); an order numbered in ORC
    # alone, by the collection time as read before review 119 (OBX-14, else OBR-7)
    legacy = f"{order_key}||{sub_id}" if code and not sent[0].code else None
    legacy_unscoped = None
    if order.from_orc:
        before = written or order.text
        legacy_unscoped = f"@{key_time(before, *read_ts(before, offset))}|{code}|{sub_id}"
        legacy = legacy_unscoped
    reference_range, range_before = ranges_of(obx, trial=trial)
    return ObservationInput(
        result_key=key,
        codes=tuple(c for c in codes if c.code),
        value=value,
        unit=units.units,
        unit_split=units.split,
        unit_texts=units.texts,
        reference_range=reference_range,
        range_before=range_before,
        abnormal_flag=field_value(obx, 8, strict=trial) or None,
        flags=flags_of(obx, strict=trial),
        flag_refusal=flag_refusal(obx) if trial else None,
        not_a_number=value_refusal(obx, value_type) if trial else None,
        value_type=value_type,
        # empty stays empty: the service rejects an unknown status
        status=field_value(obx, 11, strict=trial, single=trial),
        collected_at=collected,
        reported_at=reported,
        collected_local=local,
        reported_local=reported_local,
        report_field=report_field,
        analysed_at=analysed,
        report_time_written=bool(report_text),  # read or not: never untimed (review 205)
        unscoped_key=key if untracked else None,
        codes_repeat_or_nest=mapped_read and codes_repeat_or_nest(obx),
        legacy_key=legacy,
        legacy_unscoped=legacy_unscoped,
        time_conflict=conflict if trial else None,
        order_cancelled=order.cancelled,
        # a trial result's name says nothing more: read for the others' only
        names=() if trial else names_of(obx),
        second_alternate_names=() if trial else names_of(obx, SECOND_ALTERNATE_NAME),
    )
