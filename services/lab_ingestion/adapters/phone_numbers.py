"""A removed phone number, found in a kept copy's free text however it is written.

A phone field (HL7's XTN) holds a number as one string (XTN-1, v2.3's, or XTN-12, the
unformatted number: ``+41 79 765 43 21``, ``(031) 999 88 77``) or in components (v2.5:
XTN-5 country code, XTN-6 area code, XTN-7 local number: ``^PRN^PH^^41^31^9998877``). A
note writes it as a person dials it: ``0319998877``, ``031 999 88 77``, ``031.999.88.77``,
``+41 31 999 88 77``, ``0041 31 999 88 77``, ``+41 (0)31 999-88-77``. ``phone_numbers``
gives the digits of the forms a number is written in (national, with its trunk prefix 0,
and its subscriber part, which follows a country code); ``phone_spans`` finds them in text
whose digits are grouped by blanks, dots, dashes, slashes or parentheses, as whole groups
(``99 88 77`` does not hit ``199 88 77``), run into letters or not (``Tel0319998877``), a
country code before them (``+41`` or ``0041``, also run into the number: ``+41319998877``)
left as written. Only forms of
``MIN_PHONE_DIGITS`` digits or more are searched: fewer are lab values, counts and postal
codes. Linear in the text: each run of grouped digits is searched with ``str.find``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence

MIN_PHONE_DIGITS = 7
_SEPARATORS = " ./-()"  # what may stand between a written number's groups of digits
_GROUP = re.compile(r"[0-9]+", re.ASCII)
_COUNTRY_CODE = 3  # digits at most


def phone_numbers(components: Sequence[str]) -> set[str]:
    """The digits of the forms the number of one XTN (its ``components``) is written in:
    each number written in XTN-1 or XTN-12 (``_written_forms``), and XTN-6 and -7 put
    together (area code and local number, national and after a country code) and the local
    number alone."""
    found: set[str] = set()
    for index in (0, 11):
        if index < len(components):
            found |= _written_forms(components[index])
    area, local = (_digits(components[i]) if i < len(components) else "" for i in (5, 6))
    if local:  # the country code (XTN-5) need not be known: any is found before the rest
        found |= {local, *_national(area + local)}
    return {form for form in found if len(form) >= MIN_PHONE_DIGITS}


def phone_spans(text: str, phones: Collection[str], excluded: str = "") -> list[tuple[int, int]]:
    """Where in ``text`` each of ``phones`` (digits) is written, its groups of digits split
    by any of ``_SEPARATORS`` but those ``excluded`` (the message's own separators): from
    its first digit to its last, each end at a group's end, none run into another digit (a
    country code before it excepted: ``+41`` or ``0041``, apart or run into it); run into
    letters it is found (``Tel0311234567``, ``Tel.031 123 45 67``: letters never extend a
    number)."""
    spans: list[tuple[int, int]] = []
    if not phones:
        return spans
    for number in _numbers(excluded).finditer(text):
        if len(number.group()) < MIN_PHONE_DIGITS:
            continue
        digits, positions, group_of = _grouped(number)
        for phone in phones:
            found = digits.find(phone)
            while found != -1:
                end = found + len(phone)
                first = positions[group_of[found]]  # where the group it begins in begins
                after = positions[end - 1] + 1
                whole = (
                    (end == len(digits) or group_of[end] == end)
                    and (first == 0 or not text[first - 1].isdigit())
                    and (after == len(text) or not text[after].isdigit())
                    and _begins_a_number(digits[group_of[found] : found], text[first - 1 : first])
                )
                if whole:
                    spans.append((positions[found], after))
                found = digits.find(phone, found + 1)
    return spans


def _begins_a_number(before: str, sign: str) -> bool:
    """Whether a number whose digits are ``before`` in its group begins a phone: none (it
    begins the group), or a country code, after ``+`` (``sign``) or ``00``."""
    if not before:
        return True
    if sign == "+":
        return len(before) <= _COUNTRY_CODE
    return before.startswith("00") and len(before) <= 2 + _COUNTRY_CODE


def _written_forms(written: str) -> set[str]:
    """The forms of each number written in ``written``: national (``0797654321`` and its
    subscriber part), or international (``+41 79...``, ``0041 79...``) with the national
    forms of its rest, the country code read as its first group or, run into the number,
    as any of one to three digits."""
    found: set[str] = set()
    for number in _numbers("").finditer(written):
        digits = _digits(number.group())
        start = number.start()
        international = written[start - 1 : start] == "+" or digits.startswith("00")
        if not international:
            found |= _national(digits)
            continue
        found.add(digits)
        code = digits[2:] if digits.startswith("00") else digits
        first = _GROUP.match(number.group())
        first_group = first.group() if first else ""
        groups = len(_digits(first_group.removeprefix("00")))
        lengths = [groups] if groups < len(code) and groups <= _COUNTRY_CODE else [1, 2, 3]
        for length in lengths:
            found |= _national(_without_trunk(code[length:]))
    return found


def _national(digits: str) -> set[str]:
    """A national number with its trunk prefix (``0319998877``) and without
    (``319998877``, what follows a country code)."""
    subscriber = _without_trunk(digits)
    return {digits, subscriber, "0" + subscriber} if subscriber else set()


def _without_trunk(digits: str) -> str:
    return digits[1:] if digits.startswith("0") else digits


def _digits(text: str) -> str:
    return "".join(_GROUP.findall(text))


def _grouped(number: re.Match[str]) -> tuple[str, list[int], list[int]]:
    """A written number's digits, where each stands in the text, and for each the index
    (in the digits) of the first digit of its group."""
    groups: list[str] = []
    positions: list[int] = []
    group_of: list[int] = []
    for group in _GROUP.finditer(number.group()):
        first = len(positions)
        groups.append(group.group())
        positions.extend(range(number.start() + group.start(), number.start() + group.end()))
        group_of.extend([first] * len(group.group()))
    return "".join(groups), positions, group_of


@functools.lru_cache(maxsize=8)  # the separators are the sender's: a bounded cache
def _numbers(excluded: str) -> re.Pattern[str]:
    """Runs of groups of digits, one to three separators between groups."""
    between = "".join(re.escape(c) for c in _SEPARATORS if c not in excluded)
    if not between:
        return _GROUP
    return re.compile(rf"[0-9]+(?:[{between}]{{1,3}}[0-9]+)*", re.ASCII)
