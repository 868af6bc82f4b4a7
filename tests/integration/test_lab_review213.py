"""Review 213 through the real MLLP socket, POST /v1/lab-results and PostgreSQL: a place of
several words parted by other white space than one blank (a formatted-text line break, two
blanks, a tab, a line break in JSON) is scrubbed from the kept copy and ``rejection show``;
an address sent as one line (``Gartenweg 3, 3600 Thun``, in PID-11.1 or a JSON address key
in any of several languages) leaves neither its city nor its street; a JSON place key
outside ``patient`` spelled as one word (``birthplace``, ``hometown``) is searched for
elsewhere; a formatting escape with a count of thousands of digits is refused as repeating
too often."""

from __future__ import annotations

import json

import aiohttp
import pytest

from shared.auth import Role, create_token
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS

pytestmark = pytest.mark.integration


def crp(cid: str, address: str, note: str, unit: str = "furlongs", range_: str = "0-5") -> str:
    """A CRP from the listed LIS^HOSP, its unit unknown (refused, kept), for a patient
    living at ``address`` (PID-11); an NTE holding ``note``."""
    return j(
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        f"PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||{address}",
        f"ORC|RE|PLC{cid}|F{cid}",
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||42|{unit}|{range_}|H|||F|||{TS}",
        f"NTE|1||{note}",
    )


async def _kept_note_and_shown(
    lab: Lab, cid: str, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    payload = await lab.pool.fetchval("SELECT payload FROM rejections WHERE control_id = $1", cid)
    (nte,) = [line for line in payload.split("\r") if line.startswith("NTE")]
    capsys.readouterr()
    await cli(lab, "rejection", await rejection_of(lab, cid), sub="show")
    return nte, capsys.readouterr().out


@pytest.mark.parametrize(
    ("note", "kept"),
    [
        ("Patient wohnt in Bad\\.br\\Homburg", "Patient wohnt in [redacted]"),  # FT line wrap
        ("Patient wohnt in Bad  Homburg", "Patient wohnt in [redacted]"),  # two blanks
        ("Patient wohnt in Bad\\.sp\\Homburg", "Patient wohnt in [redacted]"),
        ("Patient wohnt in Bad\\X09\\Homburg", "Patient wohnt in [redacted]"),  # a tab
        (
            "Patient wohnt in Bad\\.in2\\Homburg, Bad Ragaz",
            "Patient wohnt in [redacted], Bad Ragaz",
        ),
    ],
)
async def test_a_place_of_several_words_parted_by_any_white_space_is_scrubbed(
    lab: Lab, note: str, kept: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PID-11's city ``Bad Homburg`` was kept in a note where its words were parted by a
    line break, two blanks or a tab; its single words stay (``Bad Ragaz``)."""
    (ack,) = await exchange(lab, crp("BH-1", "Gartenweg 12^^Bad Homburg^^3600^CH", note))
    assert ack[1] in ("AE", "AR"), ack
    nte, shown = await _kept_note_and_shown(lab, "BH-1", capsys)
    assert nte == f"NTE|1||{kept}", nte
    assert "Homburg" not in shown, shown


async def test_a_one_line_address_in_pid11_leaves_neither_its_city_nor_its_street(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """PID-11.1 holding ``Gartenweg 3, 3600 Thun`` left ``Thun`` and the house number:
    ``wohnt in Thun, [redacted] 3``."""
    note = "wohnt in Thun, Gartenweg 3, PLZ 3600 Thun; CRP 42"
    (ack,) = await exchange(lab, crp("TH-1", "Gartenweg 3, 3600 Thun^^^^^CH", note))
    assert ack[1] in ("AE", "AR"), ack
    nte, shown = await _kept_note_and_shown(lab, "TH-1", capsys)
    assert nte == "NTE|1||wohnt in [redacted], [redacted], PLZ [redacted]; CRP 42", nte
    assert "Thun" not in shown and "Gartenweg" not in shown, shown


async def test_a_formatting_count_of_thousands_of_digits_repeats_too_often(lab: Lab) -> None:
    """``\\.sp999...\\`` (5,000 digits) in a range the result is read with was refused as
    "a count that is no number" (Python refuses to read more than 4,300 digits)."""
    range_ = "0-5\\.sp" + "9" * 5000 + "\\"
    (ack,) = await exchange(lab, crp("SP-1", "^^Thun", "note", unit="mg/L", range_=range_))
    assert ack[1] == "AR", ack
    assert "repeats more than 100 times" in ack[3], ack


async def _post_json(
    lab: Lab,
    patient: dict[str, object],
    reference_range: str,
    *,
    extra: dict[str, object] | None = None,
    result_extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """A JSON body from LIS^HOSP whose unit is unknown (refused, kept); the kept copy."""
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "lab-json", Role.LAB, ["LIS^HOSP"])
    result = {"result_id": "J1", "loinc": "1988-5", "value": "12", "unit": "furlongs",
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00",
              "reference_range": reference_range, **(result_extra or {})}  # fmt: skip
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN4711", **patient}, "results": [result],
            **(extra or {})}  # fmt: skip
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/v1/lab-results", headers={"Authorization": f"Bearer {token}"}, json=body
    ) as answer:  # fmt: skip
        assert answer.status in (400, 422), await answer.text()
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept: dict[str, object] = json.loads(payload)
    return kept


def _range(kept: dict[str, object]) -> str:
    results = kept["results"]
    assert isinstance(results, list)
    return str(results[0]["reference_range"])


@pytest.mark.parametrize(
    "key",
    ["address", "adresse", "wohnadresse", "anschrift", "strasse", "indirizzo", "direccion",
     "domicilio", "home_address", "postalAddress"],
)  # fmt: skip
async def test_a_json_one_line_address_leaves_neither_its_city_nor_its_street(
    lab: Lab, key: str
) -> None:
    """``Gartenweg 3, 3600 Thun`` under ``address`` left ``Patient aus Thun, [redacted] 3``;
    under ``adresse`` or ``wohnadresse`` (not known as address keys) everything."""
    kept = await _post_json(lab, {key: "Gartenweg 3, 3600 Thun"}, "Patient aus Thun, Gartenweg 3")
    assert _range(kept) == "Patient aus [redacted], [redacted]", kept
    assert kept["source"] == {"application": "LIS", "facility": "HOSP"}, kept


@pytest.mark.parametrize("written", ["aus Bad  Homburg", "aus Bad\nHomburg", "aus Bad\tHomburg"])
async def test_a_json_place_of_several_words_parted_by_any_white_space(
    lab: Lab, written: str
) -> None:
    kept = await _post_json(lab, {"city": "Bad Homburg"}, written)
    assert _range(kept) == "aus [redacted]", kept


async def test_a_json_place_key_outside_the_patient_is_searched_elsewhere(lab: Lab) -> None:
    """A top-level ``birthplace`` and a result's ``hometown`` were dropped but their values
    kept in the reference range (only keys of separate words were known as details)."""
    kept = await _post_json(
        lab, {}, "geboren Spiez, aus Thun", extra={"birthplace": "Spiez"},
        result_extra={"hometown": "Thun"},
    )  # fmt: skip
    assert _range(kept) == "geboren [redacted], aus [redacted]", kept
    assert kept["source"] == {"application": "LIS", "facility": "HOSP"}, kept
