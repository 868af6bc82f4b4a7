"""Which subjects a caller may read: a site token its own site's only (GCP confidentiality in
a multi-site double-blind trial), the other reading roles every site's. Pure: no I/O.

A route that serves one subject asks ``subject_scope`` once per request and then
``SubjectScope.admits`` with the subject's site; a subject it may not read is answered as
one that does not exist (404, the same body), so that its answer tells nothing of which
subject ids exist at another site."""

from __future__ import annotations

from dataclasses import dataclass

from shared.principals import Principal, Role

SITE_NOT_NAMED = "this site token names no site: create a new one with --site"


class SiteNotNamed(Exception):
    """A site token created before tokens named their site: it reads no subject (403)."""

    def __init__(self) -> None:
        super().__init__(SITE_NOT_NAMED)


@dataclass(frozen=True)
class SubjectScope:
    """``site``: the one site whose subjects may be read; None: every site's."""

    site: str | None

    def admits(self, subject_site: str | None) -> bool:
        """``subject_site``: the subject's site as enrolled; None when no enrolment of it
        was read (its site unknown): only an unscoped caller reads such a subject."""
        return self.site is None or subject_site == self.site


EVERY_SITE = SubjectScope(None)


def subject_scope(principal: Principal) -> SubjectScope:
    """The subjects ``principal`` may read. A site token reads its own site's; one that
    names no site (made before ``--site`` existed) none: ``SiteNotNamed``, fail closed."""
    if principal.role is not Role.SITE:
        return EVERY_SITE
    if principal.site is None:
        raise SiteNotNamed
    return SubjectScope(principal.site)
