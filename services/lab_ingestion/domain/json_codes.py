"""A JSON result the trial would lose as another test's (pure: no I/O): one whose ``loinc``
is no LOINC code as written, and a correction or withdrawal of a stored trial result under a
``loinc`` that names no trial analyte (review 197).

The JSON format names a result's test by one ``loinc`` code and no name: a result under a
code the trial does not list is another test's, left out beside the trial results of its
message (README). But a code whose check digit is wrong (``1988-6``), or a trial analyte's
code written with leading zeros (``01988-5``, ``0751-8``), is no LOINC code at all: the
value may well be the trial's, and left out it was lost with a 202. It is refused
``unknown-analyte`` (``unreadable_loinc``), naming the code to send where its number is a
trial analyte's, as HL7 refuses a CRP it cannot read (review 155). A valid LOINC code of
another test (``26464-8``) stays another test's. A code sent is never quoted, only its field
(``results[1].loinc``): it may be the patient's number (review 205).

A JSON ``result_id`` is one result, which a correction or withdrawal always names (review
112): one whose ``result_id`` holds the patient's trial result, under a ``loinc`` naming no
trial analyte, was left out, the stored CRP standing (``results_cancelled`` 0). It is
refused ``result-of-another-analyte`` (``misfiled_change``), as one under another trial
analyte's code is, whatever its ``loinc`` says; one whose ``result_id`` holds another
patient's trial result ``result-of-another-patient``, as under the trial code (review 205).
So is a final or preliminary result under another test's valid code (``2345-7``) whose
``result_id`` holds a trial result (task 211: a mis-coded resend or correction of the CRP
was left out with a 202, the CRP standing); one whose ``result_id`` holds nothing is another
test's, left out. The fast path reads no key: its write checks each such ``result_id`` holds
nothing (``held_checked``), and a batch it refuses is read and planned again.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODE,
    LOINC_CODES,
    SAME_TEST_CODES,
    identify_analyte,
    is_loinc_code,
)
from services.lab_ingestion.domain.chain_refusals import another_chain
from services.lab_ingestion.domain.model import (
    LabMessage,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.result_status import status_of
from shared.contracts.events.lab import Analyte, Channel

# each trial analyte's code by its number (``1988`` -> ``1988-5``): the code a sender meant
# when it wrote the number with a wrong check digit or with leading zeros
_BY_NUMBER: Final[Mapping[str, str]] = MappingProxyType(
    {code.split("-")[0]: code for code in (*LOINC_CODES, *SAME_TEST_CODES)}
)
# how a reason names a JSON status that changes a stored result
_CHANGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ResultStatusCode.CORRECTED.value: "correction (status corrected)",
        ResultStatusCode.CANNOT_OBTAIN.value: "cancellation (status cancelled)",
        ResultStatusCode.DELETED.value: "withdrawal (status entered-in-error)",
    }
)
# the JSON statuses of a new result: under a result_id holding a trial result, a resend or
# new version of it under a wrong code (task 211)
_NEW: Final[frozenset[str]] = frozenset(
    {ResultStatusCode.FINAL.value, ResultStatusCode.PRELIMINARY.value}
)


def meant_code(code: str) -> str | None:
    """The trial analyte's code whose number ``code`` writes (``1988-6``, ``01988-5``:
    ``1988-5``), when ``code`` is written otherwise; None: no trial analyte's number, or
    the code itself."""
    if LOINC_CODE.fullmatch(code) is None:
        return None
    meant = _BY_NUMBER.get(code.split("-", maxsplit=1)[0].lstrip("0"))
    return None if meant == code else meant


def unreadable_loinc(code: str, at: int) -> Rejected | None:
    """Why the JSON ``loinc`` ``code`` of ``results[at]`` cannot be read (None: a LOINC code
    as LOINC writes it, or the leading zeros of a code of no trial analyte, which is another
    test's either way): its check digit is wrong, or it is a trial analyte's code written
    with leading zeros. The code sent is never quoted, only its field: the format's pattern
    lets any number through, the patient's too (review 205: ``4711234-0`` was stored and
    published in the reason); a trial analyte's code to send is named as the trial lists
    it."""
    wrong_digit = not is_loinc_code(code)
    meant = meant_code(code)
    if not wrong_digit and meant is None:
        return None
    why = "its check digit is wrong" if wrong_digit else "it is written with leading zeros"
    if meant is None:
        instruction = "send each result with its LOINC code"
        after = "which test was meant cannot be told (it may be a trial result)"
    elif wrong_digit:
        instruction = (
            f"send the result with loinc {meant} ({_analyte(meant).value}) if that is its test"
        )
        after = "which test was meant cannot be told"
    else:
        instruction = f"send the result with loinc {meant} ({_analyte(meant).value})"
        after = "a code is read only as LOINC writes it"
    return Rejected(
        RejectionCode.UNKNOWN_ANALYTE,
        f"{instruction}: results[{at}].loinc is no LOINC code ({why}), and {after}",
    )


def misfiled_change(
    status: str, held: EarlierResult | None, subject_id: str, at: int
) -> Rejected | None:
    """Why a JSON result (``status``) of ``results[at]``, under a ``loinc`` that names no
    trial analyte, is not left out: its ``result_id`` holds the trial result ``held``
    (``held_result``), which it would leave standing: a correction or withdrawal of it
    (review 197), or a final or preliminary result, its resend or new version under a wrong
    code, or another test's result under its id (task 211: left out with a 202). Another
    patient's is refused as under the trial code (review 205: left out, their result
    standing), never naming it. None: the ``result_id`` holds no trial result, or the status
    none that is applied. The code sent is never quoted (``unreadable_loinc``)."""
    if held is None or not held_checked(status):
        return None
    if held.subject_id != subject_id:
        return another_chain(held, subject_id, held.analyte)
    stored = _stored_code(held)
    change = _CHANGES.get(status)
    if change is None:
        return Rejected(
            RejectionCode.OTHER_ANALYTES_RESULT,
            f"send a result of {held.analyte} with loinc {stored} (a change of it as "
            "corrected), and another test's result under a result_id of its own: the result "
            f"under this result_id is {held.analyte}, and under results[{at}].loinc, no trial "
            "analyte's code, this one would be left out while that result stands",
        )
    return Rejected(
        RejectionCode.OTHER_ANALYTES_RESULT,
        f"send the {change} with loinc {stored}, the test it changes: the result under this "
        f"result_id is {held.analyte}, and under results[{at}].loinc, no trial analyte's "
        "code, it would be left out while that result stands",
    )


def held_checked(status: str) -> bool:
    """Whether a JSON result of ``status`` under a code of no trial analyte is refused when
    its ``result_id`` holds a trial result (``misfiled_change``): every status the platform
    applies. On the fast path its ``result_id`` is then taken to hold nothing, which the
    write checks (the others take the careful path, which reads it)."""
    return status in _CHANGES or status in _NEW


def ids_held_checked(message: LabMessage) -> list[str]:
    """The result keys (``result_id``) of the JSON ``message``'s results of no trial analyte
    that ``misfiled_change`` refuses where they hold a trial result (``held_checked``): the
    fast path, which reads none, takes them to hold nothing, and its write checks that (one
    index probe each, in its own round trip: migration 0018's ``assert_batch_current``); a
    batch it refuses is read and planned again, and the result refused. Only JSON: an HL7
    result is keyed by its order and test (another test's key never holds a trial result)."""
    if message.channel is not Channel.JSON:
        return []
    return [
        o.result_key
        for o in message.observations
        if o.codes and identify_analyte(o.codes) is None and held_checked(status_of(o))
    ]


def _stored_code(held: EarlierResult) -> str:
    """The trial code the held result was stored under, else its analyte's first listed."""
    stored = held.content[0] if held.content else None
    if isinstance(stored, str) and (stored in LOINC_CODES or stored in SAME_TEST_CODES):
        return stored
    return next(code for code, analyte in LOINC_CODES.items() if analyte.value == held.analyte)


def _analyte(code: str) -> Analyte:
    return LOINC_CODES.get(code) or SAME_TEST_CODES[code]


def held_result(
    key: tuple[str, str],
    subject_id: str,
    heads: Mapping[tuple[str, str], EarlierResult],
    preliminaries: Mapping[tuple[str, str, str], EarlierResult],
) -> EarlierResult | None:
    """The trial result a key holds, as read or as the batch left it: the chain's head,
    whoever's (another patient's refuses a change: ``misfiled_change``), else the patient's
    newest preliminary result there (None: nothing)."""
    head = heads.get(key)
    if head is not None:
        return head
    return preliminaries.get((*key, subject_id))
