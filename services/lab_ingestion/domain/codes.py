"""The codes lab-ingestion answers and acts on: why an input or a result was refused
(``RejectionCode``) and the result statuses of HL7 OBX-11 (``ResultStatusCode``)."""

from __future__ import annotations

from enum import StrEnum


class RejectionCode(StrEnum):
    """Why an input or one of its results could not be used (bounded: a metric label)."""

    MALFORMED = "malformed-message"
    UNSUPPORTED_MESSAGE = "unsupported-message-type"
    # MSH-11 names another environment (training, debugging) than this deployment's
    WRONG_PROCESSING_ID = "unsupported-processing-id"
    UNKNOWN_SOURCE = "unknown-source"
    UNKNOWN_ANALYTE = "unknown-analyte"
    AMBIGUOUS_ANALYTE = "ambiguous-analyte"  # a result's codes name different trial analytes
    MISSING_UNIT = "missing-unit"
    UNCONVERTIBLE_UNIT = "unconvertible-unit"
    NON_NUMERIC_VALUE = "non-numeric-value"
    CENSORED_VALUE = "censored-value"
    IMPLAUSIBLE_VALUE = "implausible-value"
    MISSING_COLLECTION_TIME = "missing-collection-time"
    IMPLAUSIBLE_TIME = "implausible-time"
    UNKNOWN_STATUS = "unknown-result-status"
    MISSING_PATIENT = "missing-patient-identifier"
    UNKNOWN_CORRECTED_RESULT = "unknown-corrected-result"
    OTHER_PATIENTS_RESULT = "result-of-another-patient"
    MULTIPLE_PATIENTS = "several-patients-in-message"
    AMBIGUOUS_PATIENT = "ambiguous-patient"  # the identifier names several enrolled subjects
    # several hospital numbers of different assigning authorities, none chosen by the sender's
    AMBIGUOUS_IDENTIFIER = "ambiguous-patient-identifier"
    OTHER_ANALYTES_RESULT = "result-of-another-analyte"  # the key holds another test's result
    # a final result under a key whose final result it does not restate (another sample, or a
    # changed value, which only a correction may bring)
    OTHER_SAMPLES_RESULT = "result-of-another-sample"
    # a FHIR result whose identifiers name different stored results (``result_identifiers``)
    CONFLICTING_IDENTIFIERS = "conflicting-result-identifiers"
    REUSED_MESSAGE_ID = "reused-message-id"  # a stored message's id, with other content
    # a FHIR version that repeats an earlier version its chain moved past; an HL7 or JSON
    # final result restating a withdrawn one (a late copy); a replayed result whose chain
    # changed since its message was kept (``replayed_chains``)
    AMBIGUOUS_VERSION = "ambiguous-version"
    # about a subject withdrawn from the trial, and whose it is cannot be told safely
    SUBJECT_WITHDRAWN = "subject-withdrawn"
    PROCESSING_FAILED = "processing-failed"  # the service's fault, kept for replay
    # the kept (redacted) copy of a rejected message, sent in: replayed, never ingested
    KEPT_COPY = "kept-copy-of-a-rejection"


class ResultStatusCode(StrEnum):
    """HL7 OBX-11 codes the platform acts on (FHIR statuses are mapped onto these)."""

    FINAL = "F"
    CORRECTED = "C"
    PRELIMINARY = "P"
    CANNOT_OBTAIN = "X"
    DELETED = "D"
    # "post original as wrong, e.g. transmitted for the wrong patient": withdraws it as D does
    POSTED_AS_WRONG = "W"
