"""Another test's result under a trial result's key, where a key may name either (pure: no
I/O; task 217).

A JSON ``result_id`` is one result, whatever its ``loinc`` (``json_codes``, review 197, task
211). A FHIR Observation keyed by its first untyped identifier is keyed by it as written,
without the test (``result_identifiers``): a glucose Observation under the untyped identifier
of the patient's stored CRP names that very key. It was ignored (in a Bundle) or refused as
holding no trial result (alone), whatever its status, the CRP standing: a mis-coded resend
or correction of a trial result lost, nobody told. It is refused
``result-of-another-analyte`` (another patient's: ``result-of-another-patient``), naming the
code to send and never the one sent. A FILL or PLAC key holds the test (another test's
names another key), and an HL7 key the order and test: neither is looked at. Under an
identifier holding nothing, or only a withdrawn result, it is another test's, ignored.

The fast path reads no key: it takes each such key to hold nothing (``keys_held_checked``),
and its write checks that (migration 0018's ``assert_batch_current`` key probe, in its own
round trip); a batch it refuses is read and planned again.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.chain_refusals import another_chain
from services.lab_ingestion.domain.json_codes import held_checked, ids_held_checked, stored_code
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.result_status import status_of
from shared.contracts.events.lab import Channel

# how a reason names a FHIR status that changes a stored result
_CHANGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ResultStatusCode.CORRECTED.value: "correction (Observation.status corrected or amended)",
        ResultStatusCode.CANNOT_OBTAIN.value: "cancellation (Observation.status cancelled)",
        ResultStatusCode.DELETED.value: "withdrawal (Observation.status entered-in-error)",
    }
)
_LOINC: Final = "http://loinc.org"
_IDENTIFIER: Final = "identifier (Observation.identifier)"


def under_untyped_key(observation: ObservationInput) -> bool:
    """Whether a FHIR Observation of no trial analyte, keyed by an untyped identifier, is
    refused where its key holds a trial result (``misfiled_under_identifier``): of every
    status the platform applies (``json_codes.held_checked``)."""
    return (
        observation.untyped_key
        and identify_analyte(observation.codes) is None
        and held_checked(status_of(observation))
    )


def keys_held_checked(message: LabMessage) -> list[str]:
    """The result keys of the message's results of no trial analyte that are refused where
    they hold a trial result: a JSON ``result_id`` (``json_codes.ids_held_checked``), a FHIR
    untyped identifier (``under_untyped_key``). The fast path, which reads none, takes them
    to hold nothing, and its write checks that; none of an HL7 message (keyed by its order
    and test)."""
    if message.channel is Channel.JSON:
        return ids_held_checked(message)
    if message.channel is not Channel.FHIR:
        return []
    return [o.result_key for o in message.observations if under_untyped_key(o)]


def misfiled_under_identifier(
    status: str, held: EarlierResult | None, subject_id: str
) -> Rejected | None:
    """Why a FHIR Observation of no trial analyte (``status`` as read) under an untyped
    identifier holding the trial result ``held`` is not ignored: it would leave that result
    standing. Another patient's is refused as under the trial code, never naming them. None:
    the identifier holds no trial result, or the status none that is applied. The code sent
    is never quoted, only the one to send."""
    if held is None or not held_checked(status):
        return None
    if held.subject_id != subject_id:
        return another_chain(held, subject_id, held.analyte)
    code = f"{stored_code(held)} ({_LOINC})"
    change = _CHANGES.get(status)
    if change is None:
        return Rejected(
            RejectionCode.OTHER_ANALYTES_RESULT,
            f"send a result of {held.analyte} with Observation.code {code} (a change of it "
            "with Observation.status corrected), and another test's result under an "
            f"identifier of its own: the result under this {_IDENTIFIER} is {held.analyte}, "
            "and under a code of no trial analyte this one would be ignored while that "
            "result stands",
        )
    return Rejected(
        RejectionCode.OTHER_ANALYTES_RESULT,
        f"send the {change} with Observation.code {code}, the test it changes: the result "
        f"under this {_IDENTIFIER} is {held.analyte}, and under a code of no trial analyte "
        "it would be ignored while that result stands",
    )
