"""The subject directory's former hospital numbers (migration 0035): the keyed hash a
subject's enrolment named, kept as a correction of it replaces the hash."""

from __future__ import annotations

from typing import Any

# Run before the directory applies the enrolment (``register_subject``), in its transaction:
# the row's hash as it stands is kept when the enrolment names another one, and the number
# the enrolment names (again) is no former one of the subject's any more.
KEEP_FORMER_NUMBER = """
WITH kept AS (
    INSERT INTO former_hospital_numbers (hospital_id_hmac, subject_id, site_id)
    SELECT s.hospital_id_hmac, s.subject_id, s.site_id FROM enrolled_subjects s
     WHERE s.subject_id = $1 AND s.hospital_id_hmac <> $2
    ON CONFLICT (hospital_id_hmac, subject_id) DO NOTHING
)
DELETE FROM former_hospital_numbers WHERE subject_id = $1 AND hospital_id_hmac = $2
"""


async def keep_former_number(uow: Any, subject_id: str, hospital_id_hmac: str) -> None:
    """Keep the number ``subject_id``'s enrolment names now as a former one when the
    enrolment read next names ``hospital_id_hmac`` instead (``uow``: the subject
    directory's unit of work)."""
    await uow.connection.execute(KEEP_FORMER_NUMBER, subject_id, hospital_id_hmac)
