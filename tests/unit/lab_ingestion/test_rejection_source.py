"""The sender a rejection is kept and announced under: a sender on the allow-list as it is
configured; any other (an unknown sender, or one refused for any other reason: a training
message, a size or escape error) as its kept copy writes MSH-3^MSH-4 or a JSON ``source``
(anyone who reaches the port writes those fields: a copied name there is scrubbed, as in the
rest of the copy)."""

from __future__ import annotations

import json

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.rejection_sources import rejection_source
from shared.contracts.events.lab import Channel
from shared.jsonlog import REDACTED

COPY = f"MSH|^~\\&|{REDACTED}^X|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1\rPID|1\r"
UNKNOWN = RejectionCode.UNKNOWN_SOURCE
HL7 = [Channel.MLLP, Channel.HL7_HTTP]


@pytest.mark.parametrize("channel", HL7)
def test_an_unknown_hl7_sender_is_named_as_its_kept_copy_writes_it(channel: Channel) -> None:
    source = rejection_source(channel, UNKNOWN, COPY, "JOHN DOE^HOSP", listed=False)
    assert source == f"{REDACTED}^HOSP"


@pytest.mark.parametrize("channel", HL7)
@pytest.mark.parametrize("code", [RejectionCode.WRONG_PROCESSING_ID, RejectionCode.MALFORMED])
def test_an_unlisted_hl7_sender_refused_for_another_reason_is_named_by_its_copy(
    channel: Channel, code: RejectionCode
) -> None:
    source = rejection_source(channel, code, COPY, "JOHN DOE^HOSP", listed=False)
    assert source == f"{REDACTED}^HOSP"


def test_a_copy_without_its_msh_line_names_no_sender() -> None:
    source = rejection_source(Channel.MLLP, UNKNOWN, "PID\rOBX\r", "JOHN DOE^HOSP", listed=False)
    assert source == REDACTED
    assert rejection_source(Channel.MLLP, UNKNOWN, "", None, listed=False) is None


def test_an_unreadable_http_body_kept_without_a_copy_is_known_by_its_token() -> None:
    malformed = RejectionCode.MALFORMED
    assert rejection_source(Channel.HL7_HTTP, malformed, "", "lab^http", listed=False) == (
        "lab^http"
    )


@pytest.mark.parametrize(
    ("channel", "code"),
    [(Channel.MLLP, RejectionCode.MALFORMED), (Channel.HL7_HTTP, RejectionCode.MALFORMED),
     (Channel.JSON, RejectionCode.MALFORMED), (Channel.FHIR, UNKNOWN)],
)  # fmt: skip
def test_a_listed_sender_and_a_fhir_token_keep_the_sender_as_read(
    channel: Channel, code: RejectionCode
) -> None:
    """An allowed sender is the allow-list's own text; FHIR is kept under its token's name."""
    assert rejection_source(channel, code, COPY, "LIS^HOSP", listed=True) == "LIS^HOSP"
    if channel is Channel.FHIR:
        assert rejection_source(channel, code, "{}", "lab^FHIR", listed=False) == "lab^FHIR"


def test_an_unlisted_json_sender_is_named_as_its_kept_copy_writes_it() -> None:
    copy = json.dumps({"source": {"application": REDACTED, "facility": "HOSP"}})
    source = rejection_source(
        Channel.JSON, RejectionCode.MALFORMED, copy, "JOHN^HOSP", listed=False
    )
    assert source == f"{REDACTED}^HOSP"
    assert rejection_source(Channel.JSON, UNKNOWN, "{}", "lab^http", listed=False) == "lab^http"
    assert rejection_source(Channel.JSON, UNKNOWN, "not json", "JOHN^HOSP", listed=False) == (
        REDACTED
    )
