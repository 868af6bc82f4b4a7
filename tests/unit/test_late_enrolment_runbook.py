"""What the LabLateEnrolment alert tells the operator to ask the laboratories for (review 66).

A result discarded while lab-ingestion had not read the enrolment yet was *received* after the
enrolment was recorded, but its sample may well have been *collected* before: the screening
or day-1 sample drawn before the subject was enrolled and reported after it. That sample is
the one that matters most: PROTOCOL section 3, "Baseline CRP: the last valid CRP on or before
day 1", and lab-ingestion stores a subject's result whatever its collection time. The alert
asks only for "the subject's results collected since then" (since the enrolment was
recorded): the lost baseline is never asked for, and never resent.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ALERTS = Path(__file__).resolve().parents[2] / "deploy/prometheus/alerts.yml"


def test_the_late_enrolment_runbook_asks_for_results_sent_since_not_collected_since() -> None:
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    (rule,) = [r for r in rules if r.get("alert") == "LabLateEnrolment"]
    description = " ".join(rule["annotations"]["description"].split())
    assert not re.search(r"collected since", description), (
        "the runbook restricts the resend to samples collected after the enrolment was "
        f"recorded; a pre-enrolment (baseline) sample reported in the window is lost: {description}"
    )
