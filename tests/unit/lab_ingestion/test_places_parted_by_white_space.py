"""Review 213: a place of several words is found with any run of white space between its
words (two blanks, a tab, a line break, a no-break space; in HL7 a formatted-text line
break or indent as it reads), as written and as it reads, in kept HL7, JSON and FHIR copies
alike; nothing around it is scrubbed, nor its single words, nor a phrase running from one
value into the next (``phrases``, ``hl7_scrub_fields``)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.phrases import canonical, occurrences, phrase_pattern
from services.lab_ingestion.adapters.scrub import REDACTED, Scrubber
from tests.unit.lab_ingestion.test_places_in_free_text import pid

HASH = "ab" * 32
MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
# white space as text writes it, and as HL7 escapes read (``\X0D0A\``, ``\X09\``...)
WHITE = [" ", "  ", "\t", "\n", "\r\n", "\xa0", "\u2003", " \t ", "\u3000", "\x0b"]

words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzäöüéABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=9
)
# context around a copy: letters, digits, punctuation and white space, each run apart
context = st.text(alphabet="xyz 0123.,;:-\t\n()", max_size=12)


@given(
    place=st.lists(words, min_size=2, max_size=4),
    gaps=st.lists(st.sampled_from(WHITE), min_size=3, max_size=3),
    before=context,
    after=context,
)
def test_a_place_parted_by_any_white_space_is_found_and_nothing_around_it(
    place: list[str], gaps: list[str], before: str, after: str
) -> None:
    written = place[0] + "".join(gap + word for gap, word in zip(gaps, place[1:], strict=False))
    text = f"{before} {written} {after}"  # a word boundary on either side
    scrub = Scrubber({" ".join(place): REDACTED})
    assert scrub(text) == f"{before} {REDACTED} {after}"


few = st.text(alphabet="abdhmoru", min_size=1, max_size=3)


@given(
    place=st.lists(few, min_size=2, max_size=3),
    text=st.text(alphabet=list("abdhmoruBDHMOU -,.\t\n\xa0\u2003"), max_size=60),
)
def test_only_the_whole_phrase_is_ever_replaced(place: list[str], text: str) -> None:
    """What is replaced reads as the place (its words in any case, white space between),
    whatever the text; the rest is kept as written."""
    out = Scrubber({" ".join(place): REDACTED}, min_length=1)(text)
    phrase = re.compile(r"\s+".join(map(re.escape, place)), re.IGNORECASE)
    pieces, position = out.split(REDACTED), 0
    for index, piece in enumerate(pieces):
        assert text.startswith(piece, position), (text, out)
        position += len(piece)
        if index < len(pieces) - 1:
            copy = phrase.match(text, position)
            assert copy is not None, (text, out)
            position = copy.end()
    assert position == len(text)


@pytest.mark.parametrize(
    "text",
    ["Bad Ragaz, Homburg", "Bad\tSoden", "Homburg", "Bad-Homburgweg", "BadHomburg", "Bad_Homburg",
     "xBad Homburg", "Bad Homburger"],
)  # fmt: skip
def test_the_single_words_and_longer_words_are_kept(text: str) -> None:
    assert Scrubber({"Bad Homburg": REDACTED})(text) == text


def test_white_space_forms_of_one_place_are_one_search() -> None:
    assert canonical("bad \t homburg") == "bad homburg" and canonical("thun") == "thun"
    assert phrase_pattern("thun") is None
    phrase = phrase_pattern("bad homburg")
    assert list(occurrences("bad homburg", phrase, "bad homburg bad\r\n homburg")) == [
        (0, 11),
        (12, 25),
    ]


def test_a_long_run_of_white_space_and_words_costs_linear_time() -> None:
    """A megabyte of ``Bad`` and blanks, no ``Homburg``: each try stops at the next word."""
    text = ("Bad " + " " * 40) * 25_000
    start = time.perf_counter()
    assert Scrubber({"Bad Homburg": REDACTED, "Bad Ragaz Dorf": REDACTED})(text) == text
    assert time.perf_counter() - start < 2.0


def _nte(pid11: str, note: str) -> str:
    out = redact("\r".join([MSH, pid(f11=pid11), f"NTE|1||{note}"]), lambda _: HASH)
    (line,) = [line for line in out.split("\r") if line.startswith("NTE")]
    return line.removeprefix("NTE|1||")


@pytest.mark.parametrize(
    "between",
    ["\\.br\\", "\\.sp\\", "\\.sp3\\", "\\.in2\\", "\\.ti+1\\", "\\.sk\\", "\\.ce\\", "\\X09\\",
     "\\X0D0A\\", "\\X20\\", "\\XC2A0\\", "  ", " \\.br\\ ", "\\X0A\\\\.in1\\"],
)  # fmt: skip
def test_an_hl7_place_parted_by_escapes_that_read_as_white_space(between: str) -> None:
    assert _nte("^^Bad Homburg", f"wohnt in Bad{between}Homburg, CRP") == "wohnt in [redacted], CRP"


def test_an_hl7_place_is_not_found_across_two_values() -> None:
    """``Bad`` ending a field, repetition or component and ``Homburg`` beginning the next
    are two values (the fields were searched joined by a line break, white space now)."""
    for note in ["Bad~Homburg", "Bad^Homburg", "aus Bad\\.br\\~Homburg"]:
        assert _nte("^^Bad Homburg", note) == note
    two = "\r".join([MSH, pid(f11="^^Bad Homburg"), "NTE|1||aus Bad|Homburg Klinik"])
    assert redact(two, lambda _: HASH).split("\r")[2] == "NTE|1||aus Bad|Homburg Klinik"


@pytest.mark.parametrize("written", ["aus Bad  Homburg", "aus Bad\nHomburg", "aus Bad\tHomburg",
                                     "aus BAD\r\n HOMBURG"])  # fmt: skip
def test_a_json_place_parted_by_any_white_space(written: str) -> None:
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN4711", "city": "Bad Homburg"},
            "results": [{"result_id": "R1", "reference_range": written}]}  # fmt: skip
    out = redact_json(body, lambda _: "h" * 12)
    assert out["results"][0]["reference_range"] == "aus [redacted]"
