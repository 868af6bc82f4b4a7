"""Which words written after a place name a region (a canton, a state, a country), so that
the name before them is a city (``Zug (ZG)``, ``Thun (Kt. BE)``, ``Sion (Valais)``), and which
never do (``App. (OG)``, ``Whg/OG``, ``Tel/FAX``: a floor or a unit; review 256). Pure data.

- a Swiss canton's code in any case (``ZG``, ``zg``, ``Zg``), or its name in German, French,
  Italian or English, with or without diacritics (``Wallis``, ``Valais``, ``Vallese``,
  ``Graubünden``, ``Graubuenden``, ``Grisons``); a canton's name that also names its
  capital (``Bern``, ``Zug``, ``Genf``) only after a canton's prefix (``Kanton Bern``:
  ``Lab (Bern)`` is a laboratory in Bern, review 253), as is any code or name may be
  (``Kt. BE``, ``Kt BE``, ``Kanton``, ``Ct.``, ``canton de Berne``, ``Cantone Ticino``);
- another country's region (US states, Canadian provinces, Australian states, German
  Länder, Italian provinces) or a country's ISO 3166 code (``CH``, ``DE``, ``LI``) only in
  capitals, never a floor or unit abbreviation (``EG``, ``OG``, ``UG``, ``DG``, ``FAX``).

A region is never searched for alone: it names no one. Matching is by set look-up of the
whole piece, no pattern: linear in the piece.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final


def _codes(*lists: str) -> frozenset[str]:
    """Codes written as lists parted by blanks."""
    return frozenset(code for codes in lists for code in codes.split())


CANTON_CODES: Final = _codes(
    "AG AI AR BE BL BS FR GE GL GR JU LU NE NW OW SG SH SO SZ TG TI UR VD VS ZG ZH"
)
# a canton's names that name no town too: a region however written
_CANTON_NAMES: Final = (
    "Aargau", "Argovie", "Argovia",
    "Appenzell Ausserrhoden", "Appenzell Rhodes-Extérieures", "Appenzello Esterno",
    "Appenzell Outer Rhodes", "Appenzell Innerrhoden", "Appenzell Rhodes-Intérieures",
    "Appenzello Interno", "Appenzell Inner Rhodes",
    "Basel-Landschaft", "Basel-Land", "Bâle-Campagne", "Basilea Campagna", "Basel-Country",
    "Basel-Stadt", "Bâle-Ville", "Basilea Città", "Basel-City",
    "Graubünden", "Grisons", "Grigioni", "Grischun",
    "Jura", "Giura", "Nidwalden", "Nidwald", "Nidvaldo", "Obwalden", "Obwald", "Obvaldo",
    "Thurgau", "Thurgovie", "Turgovia", "Ticino", "Tessin", "Uri",
    "Vaud", "Waadt", "Valais", "Wallis", "Vallese",
)  # fmt: skip
# a canton's names that name its capital too: a region only after a canton's prefix
_CAPITAL_NAMED: Final = (
    "Bern", "Berne", "Berna", "Zürich", "Zurich", "Zurigo",
    "Genève", "Genf", "Ginevra", "Geneva", "Luzern", "Lucerne", "Lucerna",
    "Zug", "Zoug", "Zugo", "Schwyz", "Schwytz", "Svitto", "Glarus", "Glaris", "Glarona",
    "Fribourg", "Freiburg", "Friburgo", "Solothurn", "Soleure", "Soletta",
    "Schaffhausen", "Schaffhouse", "Sciaffusa", "St. Gallen", "Sankt Gallen", "Saint-Gall",
    "San Gallo", "Neuchâtel", "Neuenburg",
)  # fmt: skip
_PREFIXES: Final = frozenset({"kt", "kanton", "ct", "canton", "cantone"})
_LINKS: Final = frozenset({"de", "du", "des", "d", "di", "del", "dei", "della", "of", "the"})

_US_STATES: Final = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP"
)
_CANADIAN_PROVINCES: Final = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
_AUSTRALIAN_STATES: Final = "NSW VIC QLD SA WA TAS NT ACT"
_GERMAN_LAENDER: Final = "BW BY BE BB HB HH HE MV NI NW NRW RP SL SN ST SH TH"
_ITALIAN_PROVINCES: Final = (
    "AG AL AN AO AP AQ AR AT AV BA BG BI BL BN BO BR BS BT BZ CA CB CE CH CL CN CO CR CS CT CZ "
    "EN FC FE FG FI FM FR GE GO GR IM IS KR LC LE LI LO LT LU MB MC ME MI MN MO MS MT NA NO NU "
    "OR PA PC PD PE PG PI PN PO PR PT PU PV PZ RA RC RE RG RI RM RN RO SA SI SO SP SR SS SU SV "
    "TA TE TN TO TP TR TS TV UD VA VB VC VE VI VR VT VV"
)
_ISO_COUNTRIES: Final = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS YE YT ZA ZM ZW UK"
)
# floors and units of a Swiss or German address (ground floor, upper floor, basement, attic,
# raised ground floor) and what else is written in capitals beside a part: never a region
FLOORS_AND_UNITS: Final = frozenset({"EG", "OG", "UG", "DG", "HP", "FAX", "TEL", "WHG", "APP"})
# what a code written after a blank may be besides a region (``Muster AG``, ``Labor SA``,
# ``1234 Main ST``): a company's legal form, a street's type, a compass point that names
# no region (``Haus SW``, review 262; ``NO`` (Norway, Novara: ``Oslo NO``, review 265),
# ``SO``, ``NE``, ``NW`` (cantons) stay regions: PHI first)
NOT_AFTER_A_BLANK: Final = _codes(
    "AG SA SE NV BV KG AB AS CO SL ST RD DR CT PL SQ LN SW NNE NNW SSE SSW ENE ESE WNW WSW"
)
OTHER_REGION_CODES: Final = (
    _codes(_US_STATES, _CANADIAN_PROVINCES, _AUSTRALIAN_STATES, _GERMAN_LAENDER,
           _ITALIAN_PROVINCES, _ISO_COUNTRIES)
    - FLOORS_AND_UNITS
)  # fmt: skip

_SEPARATORS = re.compile(r"[\s.\-'\u2019\u2010-\u2014]+")  # one class: linear
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def _folded(text: str) -> str:
    """A name as compared: case folded, without diacritics, its dots, hyphens, apostrophes
    and blanks one blank (``St.-Gallen`` is ``st gallen``, ``Genève`` is ``geneve``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(p for p in _SEPARATORS.split(plain.casefold()) if p)


def _names(names: tuple[str, ...]) -> frozenset[str]:
    """Each name folded, and with an umlaut written as two letters (``Graubuenden``)."""
    return frozenset(
        _folded(form) for name in names for form in (name, name.lower().translate(_UMLAUTS))
    )


_CANTON_NAME_FORMS: Final = _names(_CANTON_NAMES)
_CAPITAL_NAMED_FORMS: Final = _names(_CAPITAL_NAMED)
_CANTON_CODE_FORMS: Final = frozenset(code.lower() for code in CANTON_CODES)


def names_region(piece: str) -> bool:
    """Whether a piece written after a bracket or slash names a region (the module's rule):
    ``ZG``, ``zg``, ``Kt. BE``, ``Valais``, ``Kanton Bern``, ``canton de Berne``, ``CH``,
    ``NY``; never ``OG``, ``EG``, ``FAX``, ``Bern`` alone, ``links`` or ``West``."""
    text = piece.strip()
    if text in OTHER_REGION_CODES:  # written in capitals: ``CH``, ``NY``, ``NRW``
        return True
    words = _folded(text).split()
    prefixed = bool(words) and words[0] in _PREFIXES
    if prefixed:
        words = words[1:]
        if len(words) > 1 and words[0] in _LINKS:  # ``canton de Berne``, ``canton d'Argovie``
            words = words[1:]
    name = " ".join(words)
    if name in _CANTON_CODE_FORMS or name in _CANTON_NAME_FORMS:
        return True
    return prefixed and name in _CAPITAL_NAMED_FORMS


def region_after_a_blank(word: str) -> bool:
    """Whether the last word of a place written after a blank is its region (``BE`` of
    ``Thun BE``): a region's code in capitals (a canton's, another country's), never a
    company's form, a compass point or a street's type (``Muster AG``, ``Main St NW``)."""
    code = word.strip()
    known = code in CANTON_CODES or code in OTHER_REGION_CODES
    return known and code not in NOT_AFTER_A_BLANK
