"""Keys (JSON keys, log fields) that name a place or an address line, known by their words in
English, German, French, Italian and Spanish: one rule for the log formatter
(``jsonlog.is_phi_field``) and for kept copies of JSON lab results (``json_redaction``).

A key's words are split at anything but a letter or digit, where camelCase starts a word
(``cityOfBirth``, ``ZIPCode``, ``place-of-birth``) and where letters meet digits (a number
is a word of its own: ``addressLine1``, ``street1``), in lower case; a word, never a part of
one (review 199: ``ethnicity`` holds "city"). Review 213: the log rule knew only separate
English words, so a JSON ``birthplace`` or ``hometown`` outside ``patient`` was dropped but
not searched for elsewhere, and address keys were English only (``adresse``,
``wohnadresse``, ``indirizzo``, ``direccion`` were not known as address lines). Review 232:
a number glued on was read as part of the word (``addressLine1`` as ``address`` and
``line1``, ``adresse1`` as one unknown word), so such a key was no address line's; ``addr``
(HL7 CDA's name for an address, alone or with words saying whose) is one too.
"""

from __future__ import annotations

import re

# a place: a city, a postal code without digits and letters, a birth place
PLACE_WORDS = frozenset({
    "city", "town", "village", "municipality", "county", "district", "state", "province",
    "region", "canton", "country", "postal", "postcode", "postalcode", "zip", "zipcode",
    "place", "residence", "hometown", "birthplace", "placeofbirth", "cityofbirth",
    "birthcity", "homecity", "birthcountry", "countryofbirth", "locality", "suburb",
    # German, French, Italian, Spanish
    "ort", "wohnort", "geburtsort", "heimatort", "stadt", "gemeinde", "kanton", "bezirk",
    "dorf", "plz", "postleitzahl", "land", "ville", "commune", "lieu", "pays", "citta",
    "comune", "luogo", "paese", "provincia", "ciudad", "municipio", "lugar", "pais",
})  # fmt: skip
# an address line (a street and house number, maybe the whole address on one line)
STREET_WORDS = frozenset({
    "address", "addr", "street", "streetaddress", "streetname", "addressline", "homeaddress",
    "postaladdress", "mailingaddress",
    # German, French, Italian, Spanish, Portuguese
    "adresse", "wohnadresse", "postadresse", "heimadresse", "privatadresse", "anschrift",
    "wohnanschrift", "postanschrift", "strasse", "straße", "strassenname", "hausadresse",
    "domicile", "rue", "indirizzo", "residenza", "domicilio", "direccion", "dirección",
    "calle", "endereco", "endereço", "morada",
})  # fmt: skip
# keys that are address lines though no word of theirs says so (FHIR's ``line``; with a
# number, ``line1``, ``line_2``)
_STREET_KEYS = frozenset({frozenset({"line"}), frozenset({"residence"})})
# words that say whose or which address line it is
_LINE_WORDS = frozenset({"home", "postal", "mailing", "residential", "current", "main",
                         "private", "patient", "line", "wohn", "post", "privat", "haupt",
                         "de", "of", "domicile", "residence"})  # fmt: skip
# words that say the value is something else (an e-mail, a phone, a person's name): such a
# key is no place or address key even with a place word (``city_email``)
NOT_PLACE_WORDS = frozenset({
    "email", "mail", "phone", "telephone", "tel", "mobile", "fax", "pager", "url", "uri",
    "web", "website", "homepage", "given", "family", "surname", "maiden", "forename",
    "firstname", "lastname", "nickname", "fullname", "ip",
})  # fmt: skip
_KEY_RUNS = re.compile(r"[^\W_]+")  # a key's runs of letters and digits
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+")  # a run's letters apart from its digits


def key_words(key: object) -> frozenset[str]:
    """A key's words in lower case (the module's rule)."""
    words = []
    for run in _KEY_RUNS.findall(str(key)):
        start = 0
        for at in range(1, len(run)):
            before, here, after = run[at - 1], run[at], run[at + 1 : at + 2]
            if here.isupper() and (not before.isupper() or after.islower()):
                words.append(run[start:at])  # cityOf|Birth, ZIP|Code
                start = at
        words.append(run[start:])
    return frozenset(part.lower() for word in words for part in _LETTERS_OR_DIGITS.findall(word))


def is_street_key(key: object) -> bool:
    """A key whose value is an address line: a word of it one of ``STREET_WORDS`` and every
    other word one that says whose or which line (``home_address``, ``address_line_1``,
    ``postalAddress``, ``addressLine1``), or the whole key ``line`` or ``residence`` (a
    number beside: ``line1``). A number is no word of another thing; another word makes it
    a detail of something else (``email_address``; ``contact_address``, review 199: its
    value is searched for everywhere, ids included, as any other detail's)."""
    words = frozenset(word for word in key_words(key) if not word.isdigit())
    if words in _STREET_KEYS:
        return True
    return not words.isdisjoint(STREET_WORDS) and words - STREET_WORDS <= _LINE_WORDS


def is_place_key(key: object) -> bool:
    """A key whose value is a place: a word of it one of ``PLACE_WORDS``, none a word of
    something else (a place's name, ``city_name``, is a place)."""
    words = key_words(key)
    return not words.isdisjoint(PLACE_WORDS) and words.isdisjoint(NOT_PLACE_WORDS)


def is_area_key(key: object) -> bool:
    """A place key naming only an area larger than a town (a district, state, canton,
    country: ``_AREA_WORDS``): its value is searched for whole, never taken apart as a city
    written with its canton is (review 258: ``district: "Ost/West"`` cut ``Ost`` from
    notes); a key naming a town too (``cityState``, ``wohnort_kanton``) is a city's (review
    262: ``cityState: "Thun (BE)"`` kept ``Thun``)."""
    words = key_words(key)
    return not words.isdisjoint(_AREA_WORDS) and words.isdisjoint(_TOWN_WORDS)


# a place's words naming an area larger than a town (a state, a country): not searched for
# (README), so no extension URL naming only such an area makes its value a place
_AREA_WORDS = frozenset({
    "county", "district", "state", "province", "region", "canton", "country", "birthcountry",
    "countryofbirth", "kanton", "bezirk", "land", "pays", "paese", "provincia", "pais",
})  # fmt: skip
_TOWN_WORDS = PLACE_WORDS - _AREA_WORDS
_URL_PLACE_WORDS = _TOWN_WORDS | STREET_WORDS
# words of an extension's own name (its URL's last segment) saying its place is a thing's, not
# a person's: where a specimen was taken (``specimen-entnahmeOrt``, ``collection-place``), a
# device's address (``mac-addr``); never a publisher's path (``.../lab/.../residence``)
_THINGS_PLACE_WORDS = frozenset({
    "specimen", "sample", "collection", "collected", "entnahme", "probe", "device", "mac",
    "bodysite", "body", "site", "lab", "laboratory", "labor", "facility", "organization",
    "performer", "network",
})  # fmt: skip
_LAST_SEGMENT = re.compile(r"[^/:#?]*$")  # an extension's own name: after the last / : # ?
_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")  # a URL's scheme and host


def is_place_url(url: str) -> bool:
    """An extension URL naming where a person lives or was born by its words, not its
    host's (``.../residence``, ``.../place-of-residence``, ``.../wohnort``,
    ``.../lieuDeResidence``, ``.../patient-birthPlace``, ``.../adresse``), none a word of
    something else or of a thing's place (review 232: only URLs naming a person made an
    extension's value searched for, so a ``residence`` holding ``Gartenweg 3, 3600 Thun``
    stayed in a note; review 240: a specimen's ``entnahmeOrt`` cut every "Notfall"; review
    242: only the extension's own name says it is a thing's, never a publisher's path)."""
    words = key_words(_AUTHORITY.sub("", url))
    found = _LAST_SEGMENT.search(url.split("?", maxsplit=1)[0])
    own_name = key_words(found[0] if found else "")
    return (
        not words.isdisjoint(_URL_PLACE_WORDS)
        and words.isdisjoint(NOT_PLACE_WORDS)
        and own_name.isdisjoint(_THINGS_PLACE_WORDS)
    )
