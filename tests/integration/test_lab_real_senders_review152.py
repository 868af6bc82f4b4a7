"""Review 152, over the real MLLP socket: ORU^R01 as German, Austrian, French, Italian,
Belgian, Dutch, Swedish and UK laboratory systems send them. Each lost a grade-3/4 ANC with
its CBC (AE for the whole message) for a neighbouring result written in a way not read:

- F1: platelets the lab could not count, in its words (``entfällt``, ``Gerinnsel``,
  ``Ininterprétable``, ``Non valutabile``, ``volgt``, ``zie opm.``, ``ej utfört``...);
- F2: the French space between thousands (``142 000`` /mm3, range ``150 000-400 000``);
- F3: an enzyme unit with its temperature (``U/l 37°C``), which took the CRP with it;
- F4: UK Telepath's all-caps ``G/L`` for haemoglobin (read as giga per litre).

Now AA: the ANC stored and published with its value and unit, the platelets left out as
not obtained (F1) or read (F2); a zero count (``keine``) and a space that may be anything
else (``12 34``) stay refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, frame, msa
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

LATIN_1, UTF_8 = ("8859/1", "latin-1"), ("UNICODE UTF-8", "utf-8")
# the wordings of review 152's laboratories for a count they could not make
NOT_OBTAINED = (
    ("Ininterprétable", LATIN_1), ("Non réalisable", LATIN_1),
    ("Prélèvement non conforme", LATIN_1), ("Non valutabile", UTF_8),
    ("Non eseguibile", UTF_8), ("Vedi referto", UTF_8), ("entfällt", LATIN_1),
    ("kein Material", LATIN_1), ("Gerinnsel", LATIN_1), ("volgt", UTF_8),
    ("niet bepaald", UTF_8), ("zie opmerking", UTF_8), ("zie opm.", UTF_8),
    ("ej utfört", UTF_8), ("Se kommentar", UTF_8),
)  # fmt: skip


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


def _message(control_id: str, charset: str, *segments: str) -> str:
    return "\r".join(
        (
            f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120103000+0100||ORU^R01|{control_id}|P|2.5|||||"
            f"|{charset}",
            f"PID|1||{MRN}^^^HOSP^MR",
            f"OBR|1|P-{control_id}|F-{control_id}|CBC^CBC^L|||20261120081500+0100",
            *(f"OBX|{i}|{s}" for i, s in enumerate(segments, start=1)),
        )
    ) + "\r"  # fmt: skip


async def _send(lab: Lab, message: str, encoding: str = "utf-8") -> list[str]:
    client = await lab.mllp()
    try:
        await client.send(frame(message, encoding))
        return msa(await client.ack())
    finally:
        await client.close()


async def _stored(lab: Lab, control_id: str) -> list[tuple[object, ...]]:
    rows = await lab.pool.fetch(
        "SELECT r.analyte, r.value, r.unit, r.original_value, r.original_unit,"
        " r.reference_low, r.reference_high FROM results r JOIN messages m USING (message_id)"
        " WHERE m.control_id = $1 ORDER BY r.analyte",
        lab.stored_id(control_id),
    )
    return [tuple(r) for r in rows]


async def _published(lab: Lab, count: int) -> list[tuple[str, float, str]]:
    events = await lab.events("lab.results.v1", at_least=count)
    return sorted((e.payload["analyte"], e.payload["value"], e.payload["unit"]) for e in events)


async def test_the_anc_beside_platelets_not_counted_is_stored(lab: Lab) -> None:
    for n, (wording, (charset, encoding)) in enumerate(NOT_OBTAINED):
        message = _message(
            f"R152-N{n}", charset,
            f"NM|751-8^Neutrophils^LN||0.3{n % 10}|10*9/L|1.8-7.7|LL|||F",
            f"ST|777-3^Platelets^LN||{wording}|10*9/L|150-400||||F",
        )  # fmt: skip
        ack = await _send(lab, message, encoding)
        assert ack[1:4] == ["AA", f"R152-N{n}", "accepted; 1 result(s) stored"], (wording, ack)
        assert await _stored(lab, f"R152-N{n}") == [
            ("neutrophils", float(f"0.3{n % 10}"), "10*9/L", f"0.3{n % 10}", "10*9/L", 1.8, 7.7)
        ], wording
    assert await lab.metric("lab_results_not_obtained_total", channel="mllp") == len(NOT_OBTAINED)
    published = await _published(lab, len(NOT_OBTAINED))
    assert published == sorted(
        ("neutrophils", float(f"0.3{n % 10}"), "10*9/L") for n in range(len(NOT_OBTAINED))
    )
    # a zero count is a result (grade 4): never read as not obtained, the lab is told
    zero = _message(
        "R152-Z", UTF_8[0], "ST|751-8^Neutrophils^LN||keine|10*9/L|1.8-7.7||||F",
        "ST|777-3^Platelets^LN||volgt|10*9/L|150-400||||F",
    )  # fmt: skip
    refused = await _send(lab, zero)
    assert refused[1] == "AE" and "neutrophils value" in refused[3], refused


async def test_french_counts_with_a_space_between_thousands_are_read(lab: Lab) -> None:
    for n, space in enumerate((" ", "\u00a0", "\u202f")):
        message = _message(
            f"R152-S{n}", UTF_8[0],
            f"NM|751-8^PNN^LN||420|/mm3|1{space}800-7{space}500|L|||F",
            f"NM|777-3^Plaquettes^LN||142{space}000|/mm3|150{space}000-400{space}000|L|||F",
        )  # fmt: skip
        ack = await _send(lab, message)
        assert ack[1:4] == ["AA", f"R152-S{n}", "accepted; 2 result(s) stored"], (space, ack)
        assert await _stored(lab, f"R152-S{n}") == [
            ("neutrophils", 0.42, "10*9/L", "420", "/mm3", 1.8, 7.5),
            ("platelets", 142.0, "10*9/L", f"142{space}000", "/mm3", 150.0, 400.0),
        ]
    assert (
        await _published(lab, 6)
        == [("neutrophils", 0.42, "10*9/L")] * 3 + [("platelets", 142.0, "10*9/L")] * 3
    )
    # a space before other than three digits may be anything: refused, the lab told
    refused = await _send(
        lab, _message("R152-S9", UTF_8[0], "NM|777-3^Plaquettes^LN||12 34|/mm3|||||F")
    )
    assert refused[1] == "AE" and "not a plain decimal" in refused[3], refused


async def test_enzyme_units_at_37_degrees_are_read(lab: Lab) -> None:
    units = ("U/l 37°C", "U/L (37°C)", "U/l(37°C)", "IU/L @37C")
    for n, unit in enumerate(units):
        message = _message(
            f"R152-T{n}", LATIN_1[0], f"NM|1742-6^GPT^LN||245|{unit}|< 50|++|||F",
            "ST|1988-5^CRP^LN||<0,5|mg/dl|< 0,5||||F",
        )  # fmt: skip
        ack = await _send(lab, message, LATIN_1[1])
        assert ack[1:4] == ["AA", f"R152-T{n}", "accepted; 2 result(s) stored"], (unit, ack)
        assert await _stored(lab, f"R152-T{n}") == [
            ("alt", 245.0, "U/L", "245", unit, None, 50.0),
            ("crp", 5.0, "mg/L", "<0,5", "mg/dl", None, 5.0),
        ]
    assert await _published(lab, 2 * len(units)) == [("alt", 245.0, "U/L")] * len(units) + [
        ("crp", 5.0, "mg/L")
    ] * len(units)
    # an older method's temperature is another value: refused, the lab told
    refused = await _send(
        lab, _message("R152-T9", UTF_8[0], "NM|1742-6^GPT^LN||245|U/L (25°C)|< 50||||F")
    )
    assert refused[1] == "AE" and "cannot be converted" in refused[3], refused


async def test_uk_capitals_g_per_l_is_haemoglobin_grams(lab: Lab) -> None:
    telepath = _message(
        "R152-UK", "", "NM|718-7^HAEMOGLOBIN^LN||98|G/L|130-170|L|||F",
        "NM|751-8^NEUTROPHILS^LN||0.4|10^9/L|2.0-7.5|L|||F",
        "NM|777-3^PLATELETS^LN||142|G/L|150-400|L|||F",
    )  # fmt: skip
    ack = await _send(lab, telepath)
    assert ack[1:4] == ["AA", "R152-UK", "accepted; 3 result(s) stored"], ack
    assert await _stored(lab, "R152-UK") == [
        ("haemoglobin", 9.8, "g/dL", "98", "G/L", 13.0, 17.0),
        ("neutrophils", 0.4, "10*9/L", "0.4", "10^9/L", 2.0, 7.5),
        ("platelets", 142.0, "10*9/L", "142", "G/L", 150.0, 400.0),
    ]
    assert await _published(lab, 3) == [
        ("haemoglobin", 9.8, "g/dL"), ("neutrophils", 0.4, "10*9/L"),
        ("platelets", 142.0, "10*9/L"),
    ]  # fmt: skip


async def test_an_undetectable_or_flagged_text_is_refused_not_left_out(lab: Lab) -> None:
    """Review 154: `Non dosable` is below what the assay measures (a finding, as `nicht
    messbar` is), and `volgt` flagged LL says it was measured: both refused, so that the lab
    is told, never dropped beside a stored CRP with AA."""
    crp = "NM|1988-5^CRP^LN||12|mg/L|<5|H|||F"
    for control_id, anc in (
        ("R154-1", "ST|751-8^PNN^LN||Non dosable|G/L|1.8-7.5||||F"),
        ("R154-2", "ST|751-8^Neutrophils^LN||volgt|10*9/L|1.8-7.7|LL|||F"),
    ):
        answer = await _send(lab, _message(control_id, UTF_8[0], anc, crp))
        assert answer[1] == "AE", answer
        assert await _stored(lab, control_id) == []
