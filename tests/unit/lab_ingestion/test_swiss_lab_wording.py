"""Review 130: the trial's Swiss laboratories (CH-01: Synlab, Unilabs, Viollier, Dr. Risch,
i.s.h.med) write in German, French and Italian, and number as the Swiss do.

- A CBC whose platelets say ``Thrombozytenaggregate``, ``folgt``, ``n.b.``, ``voir
  commentaire``, ``vedi commento``, ``---`` was answered AE non-numeric-value, losing the
  grade-4 ANC beside it (``CLUMPED`` was read as not obtained): the not-obtained words are
  read in the trial's languages too, never a wording of a zero or undetectable count
  (``n.n.``, ``nicht nachweisbar``, ``negativ``, ``non détectable``: refused as ``NONE SEEN``).
- ``95'000`` /uL (the Swiss thousands apostrophe) was refused non-numeric-value: read where
  unambiguous (a group of three digits after each apostrophe, no decimal mark before it).
- ``Mrd/l`` (Milliarden pro Liter) was refused unconvertible-unit: it is 10^9/L.

None of it changes a message's content digest, which covers the value and unit as written
(``message_identity``): the digests below were made by the code before the change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.measured_values import parse_value
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
)
from services.lab_ingestion.domain.normalise import normalise, parse_reference_range
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from services.lab_ingestion.domain.unobtained import as_not_obtained, says_not_obtained
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Analyte, Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)

NOT_OBTAINED = (
    # English, as before
    "CLUMPED", "TNP", "QNS", "See comment", "Pending", "cancelled", "haemolysed",
    # German
    "folgt", "Befund folgt", "n.b.", "n. b.", "nb", "N.B.", "nicht bestimmt",
    "nicht bestimmbar", "nicht durchgeführt", "nicht durchgefuehrt",
    "nicht durchgefuhrt", "nicht auswertbar", "siehe Bemerkung", "s. Bemerkung",
    "s.Bemerkung", "s Kommentar", "siehe Befund", "s. Text", "Thrombozytenaggregate",
    "Thrombozyten-Aggregate", "Aggregate", "Aggregat", "verklumpt", "geronnen",
    "Probe geronnen", "hämolytisch", "haemolytisch", "hamolytisch", "hämolysiert",
    "lipämisch", "lipaemisch", "ikterisch", "Material ungenügend", "Material ungenuegend",
    "zu wenig Material", "storniert", "ausstehend",
    # French
    "voir commentaire", "voir remarque", "voir note", "agrégats", "agregats",
    "agrégats plaquettaires", "agrégat", "amas plaquettaires", "coagulé", "coagule",
    "hémolysé", "hemolyse", "lipémique", "lipemique", "non effectué", "non effectue",
    "non réalisé", "non realise", "à suivre", "a suivre", "en cours", "annulé", "annule",
    "quantité insuffisante", "quantite insuffisante",
    # Italian
    "vedi commento", "vedi nota", "aggregati", "aggregati piastrinici", "coagulato",
    "emolizzato", "lipemico", "non eseguito", "in corso", "annullato",
    "materiale insufficiente",
    # nothing written
    "-", "--", "---", "----", "n/a", "N/A",
)  # fmt: skip
# a zero or undetectable count: a result (grade 4 for neutrophils), refused as NONE SEEN is
ZERO_COUNTS = (
    "n.n.", "nn", "nicht nachweisbar", "negativ", "non détectable", "non detectable",
    "non rilevabile", "0", "keine", "NONE SEEN", "NIL", "absent",
)  # fmt: skip
SEPARATORS = (" ", " - ", ", ", "; ", " / ", ": ", " (", ") ", ". ", " -- ")


@pytest.mark.parametrize("value", NOT_OBTAINED)
def test_each_listed_wording_says_not_obtained(value: str) -> None:
    assert says_not_obtained(value)
    assert says_not_obtained(value.upper()) and says_not_obtained(f"  {value.lower()} ")


NOT_SAYING_SO = (
    *ZERO_COUNTS, "keine Aggregate", "n.n. s. Bemerkung", "0 ---", "-5", "95'000", "Bemerkung",
    "Aggregate 95",
    # "negative" in German and Swiss notation, and a value beyond the measuring range (review 134)
    "(-)", "( - )", "-/-", "- -", "nicht messbar",
)  # fmt: skip


@pytest.mark.parametrize("value", NOT_SAYING_SO)
def test_a_zero_count_or_a_number_never_says_not_obtained(value: str) -> None:
    assert not says_not_obtained(value)


def test_an_umlaut_written_decomposed_reads_as_composed() -> None:
    assert says_not_obtained("ha\u0308molytisch") and says_not_obtained("Ha\u0308molysiert")


# dashes alone are read so only as one run (``---``), never combined (``- -``, ``-/-``)
_CASED = st.sampled_from([p for p in NOT_OBTAINED if p.strip("-")]).flatmap(
    lambda p: st.sampled_from((p, p.upper(), p.lower(), p.title()))
)


@settings(max_examples=300)
@given(
    phrases=st.lists(_CASED, min_size=1, max_size=4),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=5, max_size=5),
)
def test_any_combination_of_listed_wordings_says_not_obtained(
    phrases: list[str], separators: list[str]
) -> None:
    value = "".join(p + s for p, s in zip(phrases, separators, strict=False)).strip()
    assert says_not_obtained(value), value


@settings(max_examples=300)
@given(
    phrases=st.lists(_CASED, max_size=4),
    zero=st.sampled_from(ZERO_COUNTS),
    at=st.integers(min_value=0, max_value=4),
    separators=st.lists(st.sampled_from(("", *SEPARATORS)), min_size=6, max_size=6),
)
def test_a_zero_count_among_them_never_does(
    phrases: list[str], zero: str, at: int, separators: list[str]
) -> None:
    words = [*phrases[:at], zero, *phrases[at:]]
    value = "".join(w + s for w, s in zip(words, separators, strict=False))
    assert not says_not_obtained(value), value


def _observation(code: str, value: str, key: str) -> ObservationInput:
    return ObservationInput(
        key,
        (Coding(code, "http://loinc.org"),),
        value,
        ("10*9/L",),
        collected_at=RECEIVED - timedelta(hours=3),
    )


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("wording", ["Thrombozytenaggregate", "voir commentaire", "---", "n.b."])
def test_hl7_fhir_and_json_read_the_words_as_they_read_clumped(
    channel: Channel, wording: str
) -> None:
    """``as_not_obtained`` over every channel (a FHIR valueString, a JSON value): what it
    does with ``CLUMPED`` it does with the Swiss wordings."""

    def read(platelets: str) -> tuple[LabMessage, tuple[tuple[str, str], ...]]:
        anc = LabMessage(channel, "LIS", "HOSP", "M-1", "MRN1",
                         (_observation("751-8", "0.3", "K1"),))  # fmt: skip
        plt = replace(anc, control_id="M-2",
                      observations=(_observation("777-3", platelets, "K2"),))  # fmt: skip
        whole = replace(anc, observations=(*anc.observations, *plt.observations))
        message, bundle = (plt, (anc, plt)) if channel is Channel.FHIR else (whole, ())
        return as_not_obtained(message, lambda _: True, bundle)

    (clumped, clumped_keys), (read_so, keys) = read("CLUMPED"), read(wording)
    assert keys == clumped_keys == (("LIS^HOSP", "K2"),)
    assert [replace(o, value="") for o in read_so.observations] == [
        replace(o, value="") for o in clumped.observations
    ]
    assert read_so.observations[-1].read_as_not_obtained


def _cbc(platelets: str, platelet_unit: str = "G/l", anc_unit: str = "G/l") -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091523+0100||ORU^R01|R130-1|P|2.4|||AL|NE||"
        "8859/1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|AUF21|SYN-21|BB^Blutbild^L|||20261120081500+0100\r"
        f"OBX|1|NM|NEUTA^Neutrophile abs.^L^751-8^Neutrophils^LN||0,35|{anc_unit}|1,8-7,7|LL|||F\r"
        f"OBX|2|ST|THRO^Thrombozyten^L^777-3^Platelets^LN||{platelets}|{platelet_unit}|"
        "150-400||||F\r"
        "OBX|3|NM|HB^Hämoglobin^L^718-7^Hemoglobin^LN||12,1|g/dl|13,5-17,5|L|||F\r"
    )


async def test_the_anc_beside_thrombozytenaggregate_is_stored() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    lab, _ = parse_oru(_cbc("Thrombozytenaggregate"), identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", RECEIVED)])
    assert outcome.accepted and outcome.not_obtained == 1, outcome
    stored = sorted((r.result.analyte.value, r.result.value) for r in db.results if r.result)
    assert stored == [("haemoglobin", 12.1), ("neutrophils", 0.35)]


@pytest.mark.parametrize(
    ("written", "number"),
    [("95'000", 95000.0), ("95\u2019000", 95000.0), ("1'234.5", 1234.5),
     ("1'234'567", 1234567.0), ("<1'000", 1000.0), ("1'234,5", 1234.5)],
)  # fmt: skip
def test_a_thousands_apostrophe_is_read_where_unambiguous(written: str, number: float) -> None:
    value = parse_value(Analyte.PLATELETS, written)
    assert not isinstance(value, Rejected) and value.number == number
    assert value.written == written  # quoted as written


@pytest.mark.parametrize("written", ["12'34", "1'2345", "0'123", "1.234'567", "1,234'567",
                                     "'000", "1''000", "1'000'00", "95'"])  # fmt: skip
def test_an_apostrophe_that_may_be_anything_else_stays_refused(written: str) -> None:
    assert isinstance(parse_value(Analyte.PLATELETS, written), Rejected)


def _normalised(value: str, unit: str, code: str = "777-3") -> NormalisedResult | Rejected:
    observation = replace(_observation(code, value, "K1"), unit=(unit,))
    result = normalise(observation)
    assert result is not None
    return result


def test_platelets_95_thousand_per_microlitre_are_95_x10e9_per_litre() -> None:
    result = _normalised("95'000", "/uL")
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.unit, result.original_value) == (95.0, "10*9/L", "95'000")
    assert parse_reference_range("150'000-450'000") == (150000.0, 450000.0)


@pytest.mark.parametrize("unit", ["Mrd/l", "Mrd./l", "Mrd/L", "Mrd./L", "MRD/L", "mrd/l"])
def test_milliarden_per_litre_is_10e9_per_litre(unit: str) -> None:
    assert recognise_unit(unit) == "10*9/L"
    result = _normalised("0,35", unit, "751-8")
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.unit) == (0.35, "10*9/L")


@pytest.mark.parametrize(
    ("text", "digest"),
    [
        (_cbc("Thrombozytenaggregate"), "ed008578ba50d5b655fda2dbc2c8a9d8"),
        (_cbc("---"), "dfa2b8c8fec855c1b9c9235a8f85bb3e"),
        (_cbc("95'000", "/uL"), "ff85bd109f48e34bf7c107c294b1ca57"),
        (_cbc("142", anc_unit="Mrd/l"), "aabedb147d69b538270471b722a64d24"),
    ],
)
def test_the_content_digest_is_the_one_made_before(text: str, digest: str) -> None:
    """A message stored before (or a rejection kept then) and resent after is known by
    its digest: made of the values and units as written, it is the one made before."""
    lab, _ = parse_oru(text, identify=lambda s: f"h({s})")
    assert content_digest(lab, "hmac") == digest
