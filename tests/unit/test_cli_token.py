"""`cachexia token create --sender | --site`: what a sender and a site look like, and who may
be bound to them."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cachexia.cli import main
from cachexia.tokens import _binding, sender, site, unlisted_senders
from shared.auth import Role, TokenRecord

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)

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


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``cachexia`` refuses ``argv`` before it reaches the database: exit 2, one line why."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_a_site_token_needs_its_site(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(["token", "create", "--role", "site", "--name", "site CH-01"], capsys)
    assert "--site SITE" in err and "own site's subjects" in err


@pytest.mark.parametrize("role", ["lab", "safety", "unblinded", "ops"])
def test_only_a_site_token_is_bound_to_a_site(
    role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(["token", "create", "--role", role, "--name", "t", "--site", "CH-01"], capsys)
    assert "use it with --role site" in err


@pytest.mark.parametrize("text", ["", "   ", "C" * 33, "CH\x0101"])
def test_a_site_is_shaped_as_enrolments_name_sites(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(["token", "create", "--role", "site", "--name", "s", "--site", text], capsys)
    assert "site id" in err


@given(st.sampled_from(["CH-01", "DE-12", "site 3"]), st.sampled_from(["", " ", "  "]))
def test_a_site_is_taken_without_the_spaces_at_its_ends(name: str, pad: str) -> None:
    assert site(f"{pad}{name}{pad}") == name


def test_token_list_shows_a_site_tokens_site_or_that_it_reads_nothing() -> None:
    def record(role: Role, site: str | None) -> TokenRecord:
        return TokenRecord(uuid.uuid4(), "n", role, None, site, NOW, None)

    assert _binding(record(Role.SITE, "CH-01")) == "  site: CH-01"
    assert "create a new one with --site" in _binding(record(Role.SITE, None))
    assert _binding(record(Role.LAB, None)) == "  senders: any sender"
    assert _binding(record(Role.OPS, None)) == ""
