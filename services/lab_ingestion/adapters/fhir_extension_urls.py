"""What an extension's URL, and those of the extensions it is part of, say its value is
(``fhir_elements``): about a person (its value searched for elsewhere: a name's parts, a
place, or as written) or not (its value only dropped).

A URL naming a place by its words, in the languages ``shared.phi_keys`` knows
(``residence``, ``place-of-residence``, ``wohnort``, ``lieuDeResidence``, ``adresse``), is
enough: review 232, an Observation's or a Patient's ``.../residence`` extension holding
``Gartenweg 3, 3600 Thun`` was dropped but not searched for, since only a URL naming a person
(``patient``, ``birth``, ``address``...) was, and ``wohnt in Thun, Gartenweg 3`` in a
component was kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.phi_keys import is_place_url

_PERSONAL_URL = re.compile(
    r"patient|person|name|birth|dob|address|phone|telecom|email|mother|maiden|contact"
    r"|next-?of-?kin|(?<![a-z])kin(?![a-z])|relative|guardian|ssn|mrn|identifier|insur"
    r"|nationality|citizen"
)
_PLACE_URL = re.compile(r"birth-?place|address|residence")  # a place's extension


@dataclass(frozen=True)
class ExtensionUrls:
    """The URLs of an extension and of those it is part of."""

    text: str = ""  # in lower case, the outermost first
    place: bool = False  # one of them names a place by its words (``phi_keys``)

    def within(self, url: object) -> ExtensionUrls:
        """Those of a part whose own URL is ``url``."""
        if not isinstance(url, str):
            return self
        return ExtensionUrls(f"{self.text} {url}".lower(), self.place or is_place_url(url))

    @property
    def personal(self) -> bool:
        """About a person: its values become secrets."""
        return self.place or bool(_PERSONAL_URL.search(self.text))

    @property
    def names(self) -> bool:
        """A name: its value searched for as a name's parts."""
        return "name" in self.text

    @property
    def places(self) -> bool:
        """A place: its value searched for as an address (a line's parts, a city)."""
        return self.place or bool(_PLACE_URL.search(self.text))
