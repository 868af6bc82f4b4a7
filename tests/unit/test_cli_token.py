"""`cachexia token create --sender`: what a sender looks like, and who may be bound."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cachexia.cli import main
from cachexia.tokens import sender, unlisted_senders

PART = st.text(
    st.characters(blacklist_characters="^&~|\\", blacklist_categories=["Cs"]), min_size=1
)  # none of HL7's separators


@given(PART.filter(str.strip), PART.filter(str.strip))
def test_application_and_facility_make_a_sender(application: str, facility: str) -> None:
    assert sender(f"{application}^{facility}") == f"{application.strip()}^{facility.strip()}"


@pytest.mark.parametrize("text", ["LIS", "LIS^", "^HOSP", " ^HOSP", "LIS^HOSP^X", ""])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="LIS\\^HOSP"):
        sender(text)


def test_only_a_lab_token_is_bound_to_senders(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "create", "--role", "site", "--name", "s", "--sender", "LIS^HOSP"])
    assert exit_.value.code == 2
    assert "--role lab" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", "   "])
def test_a_token_needs_a_name(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "create", "--role", "lab", "--name", name])
    assert exit_.value.code == 2
    assert "needs a name" in capsys.readouterr().err


def test_a_token_is_bound_only_to_senders_on_the_allow_list_or_its_own_fhir_name() -> None:
    """A bound token is refused as a sender not on the allow-list (its site would not scope
    its patients), so `token create --sender` refuses one; ``<name>^FHIR`` excepted."""
    allowed = {("LIS", "HOSP")}
    senders = ["LIS^HOSP", "LIS^GONE", "hub^FHIR", "other^FHIR"]
    assert unlisted_senders("hub", senders, allowed) == ["LIS^GONE", "other^FHIR"]
    assert unlisted_senders("hub", ["LIS^HOSP", "hub^FHIR"], allowed) == []
