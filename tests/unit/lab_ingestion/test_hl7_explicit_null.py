"""HL7's explicit null ``""`` in a field read for a result is no value (hl7_fields.field_value):
not an order number, collection time, flag or unit."""

from __future__ import annotations

from datetime import UTC, datetime

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def hashed(identifier: str) -> str:
    return f"h({identifier})"


def oru(control_id: str, segments: tuple[str, ...] = (), *, mrn: str = "MRN1") -> str:
    head = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|CH01|20261120090000+0100||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1"
    )
    return "\r".join([head, f"PID|1||{mrn}^^^HOSP^MR||DOE^JOHN", *segments]) + "\r"


OBR = "OBR|1|PL1|FL1|1988-5^CRP^LN|||20261120080000+0100"


async def test_a_null_filler_number_is_no_order_number_shared_by_every_order() -> None:
    """OBR-3 `""` (HL7 null: no filler number) is taken as the order number `""`, so every
    order of the sender (and every patient) shares the key `""|1988-5|`, and the placer
    number (OBR-2) is never used. A cancellation (X: specimen haemolysed) of order PL2,
    never stored, silently withdraws order PL1's valid CRP, answered AA."""
    first = oru("M1", ('OBR|1|PL1|""|1988-5^CRP^LN|||20261120080000+0100',
                       "OBX|1|NM|1988-5^CRP^LN||40|mg/L|0-5|H|||F"))  # fmt: skip
    cancel = oru("M2", ('OBR|1|PL2|""|1988-5^CRP^LN|||20261120083000+0100',
                        "OBX|1|NM|1988-5^CRP^LN|||mg/L|||||X"))  # fmt: skip
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    outcomes = []
    for text in (first, cancel):
        message, _ = parse_oru(text, identify=hashed)
        outcomes += await ingest([IngestLabMessage(message, lambda: "", AT)])
    assert outcomes[0].accepted
    # PL2 never held a result: its X (cannot be obtained) withdraws nothing, never PL1's
    assert outcomes[1].accepted and outcomes[1].cancelled == 0
    assert db.standing("LIS^HOSP", db.results[0].result_key) is not None
    assert not db.cancelled and len(db.results) == 1


def test_a_null_filler_number_falls_back_to_the_placer_number() -> None:
    a, _ = parse_oru(oru("A", ('OBR|1|PL1|""|1988-5^CRP^LN|||20261120080000+0100',
                              "OBX|1|NM|1988-5^CRP^LN||4|mg/L|||||F")),
                     identify=hashed)  # fmt: skip
    b, _ = parse_oru(oru("B", ('OBR|1|PL2|""|1988-5^CRP^LN|||20261120083000+0100',
                              "OBX|1|NM|1988-5^CRP^LN||5|mg/L|||||F"), mrn="MRN2"),
                     identify=hashed)  # fmt: skip
    assert a.observations[0].result_key != b.observations[0].result_key


def test_a_null_obx14_takes_the_order_time() -> None:
    """OBX-14 `""` says there is no observation time: OBR-7 applies (as for an empty
    OBX-14). Read as a present but unusable time, a valid message is answered AE."""
    message, _ = parse_oru(oru("C", (OBR, 'OBX|1|NM|1988-5^CRP^LN||12|mg/L|0-5|""|||F|||""')),
                           identify=hashed)  # fmt: skip
    assert message.observations[0].collected_at is not None, "AE missing-collection-time"


def test_a_null_abnormal_flag_is_no_flag() -> None:
    """OBX-8 `""` is stored and published on lab.results.v1 as the flag '""'."""
    message, _ = parse_oru(oru("C", (OBR, 'OBX|1|NM|1988-5^CRP^LN||12|mg/L|0-5|""|||F')),
                           identify=hashed)  # fmt: skip
    assert message.observations[0].abnormal_flag is None


def test_a_null_unit_reference_range_and_sub_id_are_none() -> None:
    message, _ = parse_oru(
        oru("D", (OBR, 'OBX|1|NM|1988-5^CRP^LN|""|12|""|""|||F')), identify=hashed
    )
    observation = message.observations[0]
    assert (observation.unit, observation.reference_range) == ((), None)
    assert observation.result_key == "FL1|1988-5|"
