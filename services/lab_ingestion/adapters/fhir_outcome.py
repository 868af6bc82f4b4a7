"""FHIR input errors and the OperationOutcomes that answer them: validation of a resource
against its ``fhir.resources`` model, with diagnostics that never echo submitted values (they
may be PHI)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

from services.lab_ingestion.domain.model import RejectionCode

MAX_ISSUES = 50
WRONG_RESOURCE_TYPE = "fhir-validation-wrong-resource-type"
_STRUCTURE_ERRORS = frozenset({"extra_forbidden", WRONG_RESOURCE_TYPE})

M = TypeVar("M", bound=FHIRAbstractModel)


class Issue(NamedTuple):
    """One OperationOutcome issue."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None


class FhirInputError(ValueError):
    """The input is not a usable FHIR resource; ``issues`` feed an OperationOutcome.
    ``rejection``: the code it is kept under, when its issues do not tell it (test data)."""

    def __init__(
        self,
        issues: Sequence[Issue | tuple[str, str, str, str | None]],
        rejection: RejectionCode | None = None,
    ) -> None:
        self.issues = [Issue(s, c, d, e or None) for s, c, d, e in issues]
        self.rejection = rejection
        super().__init__(
            "; ".join(
                f"{i.expression}: {i.diagnostics}" if i.expression else i.diagnostics
                for i in self.issues
            )
        )


def input_error(
    code: str, diagnostics: str, expression: str, rejection: RejectionCode | None = None
) -> FhirInputError:
    return FhirInputError([Issue("error", code, diagnostics, expression)], rejection)


def all_errors(errors: Sequence[FhirInputError]) -> FhirInputError:
    """Several resources' errors as one (a transaction's): the first that names its
    rejection names the whole's (a test entry makes the transaction a test)."""
    issues = [issue for error in errors for issue in error.issues]
    rejection = next((e.rejection for e in errors if e.rejection is not None), None)
    return FhirInputError(issues[:MAX_ISSUES], rejection)


def validate_resource(model: type[M], data: object, where: str) -> M:
    expected = model.get_resource_type()
    if not isinstance(data, dict):
        raise input_error("structure", "expected a JSON object", where)
    if data.get("resourceType") != expected:
        raise input_error("invalid", f"resourceType must be {expected}", f"{where}.resourceType")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FhirInputError(_issues(exc, where)) from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        # fhir.resources raises these for e.g. an unknown contained resourceType
        raise input_error("structure", f"not a valid FHIR R4 {expected}", where) from None


def _issues(exc: ValidationError, where: str) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False, include_input=False):
        kind, loc = err["type"], list(err["loc"])
        if kind == "extra_forbidden" and loc:  # an unknown element's name may be PHI
            loc[-1] = "<unknown element>"
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        code = "required" if kind == "missing" else "invalid"
        if kind in _STRUCTURE_ERRORS or kind.endswith("_type"):
            code = "structure"
        issues.append(Issue("error", code, _diagnostics(err), where + path))
    return issues[:MAX_ISSUES]


def _diagnostics(err: Any) -> str:
    """The error's message, but never the submitted value: fhir.resources quotes a misplaced
    ``resourceType`` whole (a name, a birth date, an object's repr), so that one is told by
    the type the element expects (a class name of the library's)."""
    if err["type"] == WRONG_RESOURCE_TYPE:
        expected = str(err.get("ctx", {}).get("expected_resource_type", ""))
        if expected.isidentifier():
            return f"resourceType must be {expected} here, or absent"
        return "resourceType does not belong here"
    message: str = err["msg"]
    return message.removeprefix("Value error, ")


def operation_outcome(issues: Sequence[Issue | tuple[str, str, str, str | None]]) -> dict[str, Any]:
    """A valid FHIR R4 OperationOutcome (JSON dict); no issues gives one informational issue."""
    items = [Issue(*i) for i in issues] or [Issue("information", "informational", "ok")]
    body = [
        {
            "severity": i.severity,
            "code": i.code,
            "diagnostics": i.diagnostics[:1000],
            **({"expression": [i.expression]} if i.expression else {}),
        }
        for i in items
    ]
    outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": body})
    result: dict[str, Any] = json.loads(outcome.model_dump_json())
    return result
