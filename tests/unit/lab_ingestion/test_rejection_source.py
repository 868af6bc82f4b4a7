"""The sender a rejection of an unknown sender is kept and announced under: MSH-3^MSH-4 as
its kept copy writes them (anyone who reaches the port writes those fields: a copied name
there is scrubbed, as in the rest of the copy)."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.replay import rejection_source
from shared.contracts.events.lab import Channel
from shared.jsonlog import REDACTED

COPY = f"MSH|^~\\&|{REDACTED}^X|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1\rPID|1\r"
UNKNOWN = RejectionCode.UNKNOWN_SOURCE


@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.HL7_HTTP])
def test_an_unknown_hl7_sender_is_named_as_its_kept_copy_writes_it(channel: Channel) -> None:
    assert rejection_source(channel, UNKNOWN, COPY, "JOHN DOE^HOSP") == f"{REDACTED}^HOSP"


def test_a_copy_without_its_msh_line_names_no_sender() -> None:
    assert rejection_source(Channel.MLLP, UNKNOWN, "PID\rOBX\r", "JOHN DOE^HOSP") == REDACTED
    assert rejection_source(Channel.MLLP, UNKNOWN, "", None) is None


@pytest.mark.parametrize(
    ("channel", "code"),
    [(Channel.MLLP, RejectionCode.MALFORMED), (Channel.JSON, UNKNOWN), (Channel.FHIR, UNKNOWN)],
)
def test_other_rejections_keep_the_sender_as_read(channel: Channel, code: RejectionCode) -> None:
    """An allowed sender is the allow-list's own text; JSON and FHIR copies keep no MSH."""
    assert rejection_source(channel, code, COPY, "LIS^HOSP") == "LIS^HOSP"
