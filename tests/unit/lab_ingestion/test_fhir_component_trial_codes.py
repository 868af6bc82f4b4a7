"""A trial result in ``Observation.component`` is recognised as ``Observation.code`` is
(review 180).

A component was a trial result only when its code named a trial analyte under LOINC's own
system (or the OID, or none): a neutrophil count coded ``751-8`` under a misspelt
``https://loinc.org``, or a CRP named ``CRP`` under a laboratory's own code, left the panel
"another test's", answered 200 "ignored" in a Bundle (its grade-4 count lost behind a
success) and 422 unknown-analyte alone, never naming the component. The same codes on
``Observation.code`` are refused (review 121: ``trial_code_elsewhere``; review 155: a
trial analyte's name under an unlisted code). A component so coded makes the Observation
one of a trial analyte, and it is refused (400 ``not-supported`` at ``component[i].code``),
as a component under LOINC's system is; so is a panel contained in another that holds one.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.fhir_status import of_a_trial_analyte, trial_components
from tests.unit.lab_ingestion.fhir_samples import (
    crp_observation,
    lab_observation,
    parsed_bundle,
    quantity,
)

MISSPELT_ANC = {
    "code": {"coding": [{"system": "https://loinc.org", "code": "751-8"}]},
    **quantity(0.3, "10*9/L"),
}
NAMED_CRP = {
    "code": {"coding": [{"system": "urn:oid:2.16.756.999.1", "code": "CRP"}], "text": "CRP"},
    **quantity(85, "mg/L"),
}
WBC = {"code": {"coding": [{"system": "http://loinc.org", "code": "26464-8"}]},
       **quantity(4.1, "10*9/L")}  # fmt: skip
COMPONENTS = pytest.mark.parametrize(
    "component", [MISSPELT_ANC, NAMED_CRP], ids=["https-loinc-anc", "crp-by-name"]
)


def cbc_panel(*components: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A final CBC panel (58410-2) of no value of its own, with ``components``."""
    return lab_observation("CBC-180", "58410-2", component=list(components), **more)


@COMPONENTS
def test_such_a_component_makes_the_panel_one_of_a_trial_analyte(
    component: dict[str, Any],
) -> None:
    panel = Observation.model_validate(cbc_panel(WBC, component))
    assert trial_components(panel) == [1]
    assert of_a_trial_analyte(panel)


def test_a_name_alone_without_a_value_is_no_result_in_a_component() -> None:
    """As on ``Observation.code``: a CRP named under a local code holding no measurement is
    no result (review 155's rule)."""
    named = {"code": NAMED_CRP["code"]}
    panel = Observation.model_validate(cbc_panel(WBC, named))
    assert trial_components(panel) == []


@COMPONENTS
def test_posted_alone_the_panel_is_refused_at_its_component(component: dict[str, Any]) -> None:
    with pytest.raises(FhirInputError) as refused:
        parse_observation(cbc_panel(WBC, component), "central-lab", "FHIR")
    ((code, expression),) = [(i.code, i.expression) for i in refused.value.issues]
    assert (code, expression) == ("not-supported", "Observation.component[1].code")
    assert "send each as its own Observation" in str(refused.value)


@COMPONENTS
@pytest.mark.parametrize("kind", ["batch", "transaction"])
def test_in_a_bundle_the_panel_is_refused_never_ignored(
    kind: str, component: dict[str, Any]
) -> None:
    resources = (crp_observation(), cbc_panel(component))
    if kind == "transaction":
        with pytest.raises(FhirInputError) as refused:
            parsed_bundle(kind, *resources)
        issues = [(i.code, i.expression) for i in refused.value.issues]
    else:
        crp, panel = parsed_bundle(kind, *resources).entries
        assert crp.message is not None
        assert panel.error is not None and not panel.ignored
        issues = [(i.code, i.expression) for i in panel.error.issues]
    assert issues == [("not-supported", "Bundle.entry[1].resource.component[0].code")]


@COMPONENTS
def test_a_panel_contained_in_another_is_found_by_its_component(
    component: dict[str, Any],
) -> None:
    inner = {"id": "cbc", **cbc_panel(component)}
    del inner["subject"]
    outer = lab_observation(
        "PANEL-180", "24323-8", contained=[inner], hasMember=[{"reference": "#cbc"}]
    )
    _, entry = parsed_bundle("batch", crp_observation(), outer).entries
    assert entry.error is not None and not entry.ignored
    assert [(i.code, i.expression) for i in entry.error.issues] == [
        ("not-supported", "Bundle.entry[1].resource.contained[0]")
    ]
