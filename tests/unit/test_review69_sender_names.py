"""Review 69: `source add` takes only names an HL7 message can carry.

README.md lines 1036-1038: "`source add` takes an application and a facility only as a
message can name them: not blank and without `^` (only the first component of MSH-3 and
MSH-4 is read), as `token create --sender` does."

Only `^` is refused. A name holding HL7's other delimiters (`&` sub-component, `~`
repetition, `|` field) is stored, listed as allowed, and never matches: MSH-3
`LAB&1` or `LAB~1` is read as `LAB`, so every message of the sender the operator believes
allowed is answered AR `unknown-source` (seen on the running platform: `source add
--application 'LAB&1' --facility HOSPX` then an ORU with MSH-3 `LAB&1` -> "sender
'LAB^HOSPX' is not on the allow-list").
"""

from __future__ import annotations

import argparse
import json

import pytest

from bench.infra import free_port
from cachexia.cli import main
from cachexia.sender_options import sender_part
from cachexia.tokens import sender
from services.lab_ingestion.adapters.json_parser import JsonInputError, parse_lab_results
from tests.unit.lab_ingestion.route_fakes import JSON_BODY

DELIMITED = ["LAB&1", "LAB~1", "LAB|1", "LAB\\1", "LAB^1"]


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the name taken, the command would go on to an unreachable database (exit 1)."""
    for variable in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(free_port()))


@pytest.mark.parametrize("application", DELIMITED)
def test_source_add_refuses_a_name_no_message_can_carry(application: str) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["source", "add", "--application", application, "--facility", "HOSP"])
    assert refused.value.code == 2  # argparse: refused before anything is stored


@pytest.mark.parametrize("facility", DELIMITED)
def test_the_refusal_names_the_separators(
    facility: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["source", "add", "--application", "LIS", "--facility", facility])
    assert "without '^', '&', '~', '|' or '\\'" in capsys.readouterr().err


@pytest.mark.parametrize("part", DELIMITED)
def test_a_token_is_never_bound_to_a_sender_no_message_can_carry(part: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="without"):
        sender(f"{part}^HOSP")
    with pytest.raises(argparse.ArgumentTypeError):
        sender(f"LIS^{part}")


@pytest.mark.parametrize("part", DELIMITED)
def test_a_json_body_never_names_a_sender_no_message_can_carry(part: str) -> None:
    """As `source add` and `token create --sender`: a JSON source is an HL7 sender's name."""
    body = json.loads(json.dumps(JSON_BODY))
    body["source"]["facility"] = part
    with pytest.raises(JsonInputError, match=r"source\.facility: must not hold HL7's separators"):
        parse_lab_results(body)


def test_a_universal_id_is_a_name_a_message_can_carry() -> None:
    """A sender named by its HD universal ID only (MSH-3 ``^2.16.840.1.113883.3.72.5.20^ISO``)
    is allowed by that OID (review 68)."""
    oid = "2.16.840.1.113883.3.72.5.20"
    assert sender_part(oid) == oid
    assert sender(f"{oid}^1.2.756.999.1.8") == f"{oid}^1.2.756.999.1.8"
