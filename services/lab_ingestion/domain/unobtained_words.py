"""What laboratory systems write for a result they could not obtain, in the trial's
languages: English, and the German, French and Italian of its Swiss laboratories (CH-01:
Synlab, Unilabs, Viollier, Dr. Risch, i.s.h.med write ``Thrombozytenaggregate``, ``folgt``,
``n.b.``, ``voir commentaire``, ``vedi commento``, ``---``; review 130), and as German,
Austrian, French, Italian, Belgian, Dutch and Swedish laboratory systems write it
(``entfällt``, ``Gerinnsel``, ``Ininterprétable``, ``Non valutabile``, ``volgt``, ``zie
opm.``, ``ej utfört``; review 152). Pure: no I/O.

A value is read so only when it is made of these alone, give or take separators
(``says_not_obtained``): any other word may carry a finding (``NONE SEEN - see comment`` is
a zero count). Never a wording of a zero or undetectable count (``NONE SEEN``, ``NIL``,
``n.n.``, ``nicht nachweisbar``, ``negativ``, ``non détectable``, ``non rilevabile``,
``niet aantoonbaar``, ``ej påvisbar``, ``keine``, ``kein``, ``0``): that is a result, grade
4 for neutrophils, and stays refused so the lab is told.

Any case; an accented letter also as its plain letter (``coagule``), an umlaut also as
``ae``/``oe``/``ue`` (``haemolytisch``, ``durchgefuehrt``); abbreviations with or without
their dots (``n.b.``, ``nb``, ``s. Bemerkung``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# each letter written with an accent may come without it; an umlaut also as two letters
_PLAIN_SPELLINGS: Final = {
    "ä": "(?:ä|ae|a)", "ö": "(?:ö|oe|o)", "ü": "(?:ü|ue|u)",
    "é": "[ée]", "è": "[èe]", "à": "[àa]",
}  # fmt: skip

# a sample's word before its state (``Probe hämolytisch``, ``échantillon coagulé``)
_SAMPLE = r"(?:(?:probe|material|blut|serum|plasma|échantillon|campione)\s+)?"

_PHRASES: Final = (
    # English
    r"clump(?:ed|s|ing)?", r"clott?ed", r"not (?:performed|done|reported)", r"tnp", r"qns",
    r"quantity not sufficient", r"insufficient", r"see (?:comment|note|below)", r"pending",
    r"to follow", r"cancell?ed", r"unable to (?:count|report|perform|measure|process)",
    r"h(?:a)?emoly(?:[sz]ed|[sz]is|tic|[sz]e)", r"lip(?:a)?emic", r"icteric", r"n\s?/\s?a",
    # German
    r"(?:(?:wert|befund|resultat|ergebnis)\s+)?folgt(?:\s+noch)?",
    r"n\.?\s?b\.?",  # nicht bestimmt / bestimmbar
    # never "nicht messbar": also a value beyond the measuring range, a finding (review 134)
    r"nicht (?:bestimmt|bestimmbar|gemessen|durchgeführt|auswertbar)",
    r"(?:siehe|s\.?|vgl\.?)\s*(?:bemerkung|kommentar|befund|text|anmerkung)",
    r"(?:(?:thrombo(?:zyten)?|plättchen|plt)[\s-]?)?aggregat(?:e|en|ion)?",
    rf"{_SAMPLE}(?:verklumpt|geronnen|hämolytisch|hämolysiert|lipämisch|ikterisch)",
    r"(?:material|probe)(?:menge)? (?:ungenügend|nicht ausreichend)",
    r"(?:ungenügend|zu wenig) material", r"storniert", r"ausstehend",
    # never "kein" or "keine" alone: a zero count (review 152)
    r"entfällt", r"kein material", r"gerinnsel",
    # French
    r"(?:voir|cf\.?)\s*(?:commentaire|remarque|note|ci-dessous)",
    r"(?:agrégats?|amas)(?:\s+plaquettaires?)?",
    rf"{_SAMPLE}(?:coagulée?|hémolysée?|lipémique|ictérique)",
    r"non (?:effectuée?|réalisée?|fait)", r"à suivre", r"en cours", r"annulée?",
    r"quantité insuffisante", r"insuffisante?",
    # never "non dosable" or "indosable": below what the assay measures, a finding (review
    # 154: "CRP non dosable" is an undetectable CRP, as "nicht messbar" is)
    r"ininterprétable", r"non réalisable", r"prélèvement non conforme",
    # Italian
    r"vedi (?:commento|nota)", r"aggregat[io](?:\s+piastrinic[io])?",
    rf"{_SAMPLE}(?:coagulato|emolizzato|lipemico|itterico)", r"non eseguit[oa]",
    r"in corso", r"annullat[oa]", r"materiale insufficiente", r"insufficiente",
    r"non (?:valutabile|eseguibile)", r"vedi referto",
    # Dutch and Swedish (review 152: Belgian and Dutch GLIMS, Swedish Flexlab); never
    # "niet aantoonbaar" or "ej påvisbar" (not detectable: a zero count)
    r"volgt", r"niet bepaald", r"zie (?:opmerking|opm\.?)", r"ej utfört", r"se kommentar",
)  # fmt: skip
# a value made only of a run of dashes (``-``, ``---``): nothing was written; never ``(-)``,
# ``-/-`` or ``- -``, which German and Swiss laboratories write for "negative" (review 134)
_ONLY_DASHES: Final = re.compile(r"[-\u2013\u2014]+")


def _spelled(phrase: str) -> str:
    """``phrase`` with each accented letter also matching its plain spellings, and each
    space any run of whitespace."""
    return "".join(_PLAIN_SPELLINGS.get(c, r"\s+" if c == " " else c) for c in phrase)


# a phrase stands alone: neither a letter nor a digit touches it (``n.b.`` ends in a dot)
_NOT_OBTAINED: Final = re.compile(
    r"(?<!\w)(?:" + "|".join(_spelled(p) for p in _PHRASES) + r")(?!\w)", re.IGNORECASE
)
_BETWEEN_PHRASES: Final = re.compile(r"[\s,;:.()/\u2013\u2014-]*")


def says_not_obtained(value: str) -> bool:
    """A value made only of what laboratory systems write for a result they could not
    obtain (``CLUMPED``, ``TNP``, ``See comment``, ``Pending``, ``CLUMPED - see comment``,
    ``Thrombozytenaggregate``, ``n.b.``, ``voir commentaire``, ``---``)."""
    if _ONLY_DASHES.fullmatch(value.strip()):
        return True
    phrases = _NOT_OBTAINED.split(unicodedata.normalize("NFC", value))
    return len(phrases) > 1 and all(_BETWEEN_PHRASES.fullmatch(rest) for rest in phrases)
