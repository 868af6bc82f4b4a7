"""lab.results.v1 events that the previous lab-ingestion published, and that the
outbox still retains, must stay consumable after 7fff134 tightened the contract.

Until 7f060a1 (2026-12-03) lab-ingestion stored a second final result under a key that held
one as the chain's new head and published it as ``status: final`` naming the result it
replaced in ``supersedes_result_id`` (``record_result`` took the head as ``previous``
whatever the status). Such events are valid ``LabResultRecorded`` at the same
``schema_version`` 1, and the outbox keeps every published event for 14 days
(``RelaySettings.retention_seconds``) to republish them when the broker lost its log (the
embedded broker keeps its log in memory: every broker restart), or publishes them after an
upgrade if they were still queued (the outbox exists to hold events while Kafka is down).

7fff134 made the model refuse them (no schema version change, no migration of retained
outbox rows). Every consumer of lab.results.v1 decodes before its inbox: such an event is now
dead-lettered ``invalid-payload``: one already applied pages on-call at every broker restart
instead of being dropped as a duplicate, and one not yet applied (queued in the outbox while
Kafka was down over the upgrade) is lost, its CRP, ANC or platelet value never reaching
crp-monitor, dose-decision or safety-alerting. SPEC section 2: a consumer applies each event
once, and dead-letters only what can never be processed; this one has the meaning its
producer gave it (crp-monitor drops whatever result an event supersedes).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from services.crp_monitor.domain.model import CrpMeasurement, current_series
from shared.contracts.events.lab import LabResultRecorded
from shared.contracts.topics import LAB_RESULTS
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.handling import PoisonMessage
from shared.messaging.processing import decode_message
from tests.factories import crp_result

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


def _as_published_before_7f060a1() -> tuple[ConsumedMessage, uuid.UUID]:
    """A final CRP result that replaced an earlier final one, exactly as lab-ingestion wrote
    it to its outbox before 7f060a1 (same envelope, same schema_version)."""
    envelope = crp_result("S-1", 48.0)
    document = json.loads(envelope.to_bytes())
    replaced = uuid.uuid4()
    assert document["payload"]["status"] == "final"
    document["payload"]["supersedes_result_id"] = str(replaced)
    value = json.dumps(document).encode()
    return ConsumedMessage(LAB_RESULTS, 0, 41, b"S-1", value), replaced


def test_a_retained_final_result_that_superseded_a_final_one_is_still_decoded() -> None:
    message, replaced = _as_published_before_7f060a1()
    try:
        decoded = decode_message(message)
    except PoisonMessage as poison:  # what the consumers do now: dead-lettered, value lost
        raise AssertionError(
            "an event lab-ingestion published (and its outbox retains) before the upgrade is "
            f"dead-lettered {poison.reason_code}: {poison.reason}"
        ) from None
    assert isinstance(decoded.payload, LabResultRecorded)
    assert decoded.payload.supersedes_result_id == replaced
    assert decoded.payload.value == 48.0


def test_crp_monitor_drops_the_result_a_final_event_supersedes_as_before() -> None:
    """The meaning its producer gave it: the second final result stands, the first not."""
    first = CrpMeasurement(uuid.uuid4(), "S-1", 30.0, AT, "final")
    second = CrpMeasurement(uuid.uuid4(), "S-1", 48.0, AT, "final", first.result_id)
    assert current_series([first, second]) == [second]
