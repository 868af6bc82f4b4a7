"""Who reads which subjects (``shared.subject_access``): a site token its own site's only, a
site token naming no site none (fails closed), the other reading roles every site's; and
which tokens may be bound to a site, and to what (``shared.auth.check_binding``)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.auth import Principal, Role, check_binding
from shared.contracts.events.trial import SITE_ID_MAX_LENGTH
from shared.site_ids import site_id_problem
from shared.subject_access import EVERY_SITE, SiteNotNamed, SubjectScope, subject_scope

# what an enrolment can name a site (printable, no spaces at its ends), and "no enrolment read"
SITES = st.text(
    st.characters(blacklist_categories=["C"]), min_size=1, max_size=SITE_ID_MAX_LENGTH
).filter(lambda s: s == s.strip() and s.strip() != "")
SUBJECT_SITES = st.one_of(st.none(), SITES, st.sampled_from(["CH-01", "CH-02", "ch-01"]))
UNSCOPED = [Role.SAFETY, Role.UNBLINDED, Role.OPS, Role.LAB]


def _principal(role: Role, site: str | None = None) -> Principal:
    return Principal(uuid.uuid4(), "a token", role, site=site)


@given(token_site=st.one_of(SITES, st.sampled_from(["CH-01", "CH-02"])), subject=SUBJECT_SITES)
def test_a_site_token_reads_a_subject_only_of_its_own_site(
    token_site: str, subject: str | None
) -> None:
    scope = subject_scope(_principal(Role.SITE, token_site))
    assert scope.admits(subject) is (subject == token_site)


@given(token_site=SITES)
def test_a_site_token_reads_no_subject_whose_site_is_unknown(token_site: str) -> None:
    """Results read before their subject's enrolment: no site can be told, so no site's."""
    assert not subject_scope(_principal(Role.SITE, token_site)).admits(None)


@given(role=st.sampled_from(UNSCOPED), subject=SUBJECT_SITES)
def test_the_other_roles_read_every_sites_subjects_as_before(
    role: Role, subject: str | None
) -> None:
    scope = subject_scope(_principal(role))
    assert scope == EVERY_SITE and scope.admits(subject)


def test_a_site_token_that_names_no_site_reads_nothing() -> None:
    with pytest.raises(SiteNotNamed, match="create a new one with --site"):
        subject_scope(_principal(Role.SITE))


def test_case_and_spelling_count_sites_are_compared_as_written() -> None:
    assert not SubjectScope("CH-01").admits("ch-01")
    assert not SubjectScope("CH-01").admits("CH-01 ")


@given(site=SITES)
def test_every_site_an_enrolment_can_name_can_be_bound(site: str) -> None:
    assert site_id_problem(site) is None
    check_binding(Role.SITE, None, site)


@pytest.mark.parametrize(
    "site", ["", "   ", " CH-01", "CH-01\t", "C" * (SITE_ID_MAX_LENGTH + 1), "CH\x0001", "CH\n01"]
)
def test_what_no_enrolment_names_is_not_a_site(site: str) -> None:
    assert site_id_problem(site) is not None
    with pytest.raises(ValueError, match="site id"):
        check_binding(Role.SITE, None, site)


def test_a_site_token_needs_its_site_and_no_other_role_takes_one() -> None:
    with pytest.raises(ValueError, match="--site SITE"):
        check_binding(Role.SITE, None, None)
    for role in UNSCOPED:
        with pytest.raises(ValueError, match="--role site"):
            check_binding(role, None, "CH-01")
        check_binding(role, None, None)
    with pytest.raises(ValueError, match="--role lab"):
        check_binding(Role.SITE, ["LIS^HOSP"], "CH-01")
