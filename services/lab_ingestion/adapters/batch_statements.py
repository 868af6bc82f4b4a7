"""lab-ingestion's batch statements: the one read before a careful batch is planned, and
the one write that stores a batch atomically (data-modifying CTEs; migrations 0002-0040
define the guard function, the row types and the key claims they use)."""

from __future__ import annotations

import uuid

from services.lab_ingestion.domain.message_identity import (
    BEFORE_COMMENTS,
    BEFORE_SECOND_ALTERNATES,
    BEFORE_SPLIT_RANGES,
)
from shared.messaging.outbox import OUTBOX_COLUMNS, outbox_unnest

# a message's digest marked when it was made before comments were read (migration 0023),
# when it was made before split ranges were read whole (migration 0029), and before OBX-3's
# second alternate coding was read (migration 0040)
LOOKUP = f"""
SELECT 'message' AS kind, m.source AS key1, m.control_id AS key2, NULL::uuid AS result_id,
       NULL::text AS subject_id, NULL::text AS site_id, NULL::text AS analyte,
       CASE WHEN m.digest_reads_second_alternates THEN '' ELSE '{BEFORE_SECOND_ALTERNATES}' END
       || CASE WHEN m.digest_reads_split_ranges THEN '' ELSE '{BEFORE_SPLIT_RANGES}' END
       || CASE WHEN m.digest_covers_comments THEN m.content_digest
               ELSE '{BEFORE_COMMENTS}' || m.content_digest END AS digest,
       m.received_at AS collected_at,  -- when it was received, in that column
       NULL::text AS loinc,
       NULL::float8 AS value, NULL::text AS unit, NULL::float8 AS reference_low,
       NULL::float8 AS reference_high, NULL::text AS abnormal_flag, NULL::text AS comparator,
       NULL::timestamptz AS reported_at, NULL::text AS report_field
  FROM unnest($1::text[], $2::text[]) AS k(source, control_id)
  JOIN messages m ON m.source = k.source AND m.control_id = k.control_id
UNION ALL
SELECT 'subject', s.hospital_id_hmac, s.subject_id, NULL, NULL, s.site_id, NULL, NULL,
       s.withdrawn_at,  -- in the collected_at column: NULL while the subject takes part
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM enrolled_subjects s
 WHERE s.hospital_id_hmac = ANY($3::text[])
UNION ALL
-- the subjects whose former number (migration 0035) each hash is, with their sites as
-- they were (in the site_id column)
SELECT 'former', f.hospital_id_hmac, f.subject_id, NULL, NULL, f.site_id, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM former_hospital_numbers f
 WHERE f.hospital_id_hmac = ANY($3::text[])
UNION ALL
SELECT 'result', k.source, k.result_key, head.result_id, head.subject_id,
       head.status,  -- its status (F or C), in the site_id column
       head.analyte, NULL, head.collected_at, head.loinc, head.value, head.unit,
       head.reference_low, head.reference_high, head.abnormal_flag, head.comparator,
       head.reported_at, head.report_field
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
  CROSS JOIN LATERAL (
      SELECT r.result_id, r.subject_id, r.status, r.analyte, r.collected_at, r.loinc, r.value,
             r.unit, r.reference_low, r.reference_high, r.abnormal_flag, r.comparator,
             r.reported_at, r.report_field
        FROM results r
       WHERE r.source = k.source AND r.result_key = k.result_key AND r.cancelled_at IS NULL
         AND r.status IN ('F', 'C')
         AND NOT EXISTS (SELECT 1 FROM results s
                          WHERE s.supersedes_result_id = r.result_id
                            AND s.cancelled_at IS NULL AND s.status IN ('F', 'C'))
       ORDER BY r.recorded_at DESC LIMIT 1) AS head
UNION ALL
SELECT 'version', k.source, k.result_key, NULL, NULL, NULL, NULL, NULL, v.collected_at,
       v.loinc, v.value, v.unit, v.reference_low, v.reference_high, v.abnormal_flag,
       v.comparator, v.reported_at, v.report_field
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
  CROSS JOIN LATERAL (
      -- every standing final or corrected version (a delayed copy of one changes nothing),
      -- with its report time and its field (a correction's copy is told by them:
      -- ``correction_resends``)
      SELECT r.collected_at, r.loinc, r.value, r.unit, r.reference_low, r.reference_high,
             r.abnormal_flag, r.comparator, r.reported_at, r.report_field FROM results r
       WHERE r.source = k.source AND r.result_key = k.result_key AND r.cancelled_at IS NULL
         AND r.status IN ('F', 'C')
       ORDER BY r.recorded_at DESC LIMIT 100) AS v
UNION ALL
SELECT 'preliminary', k.source, k.result_key, p.result_id, p.subject_id, NULL, p.analyte, NULL,
       p.collected_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
  CROSS JOIN LATERAL (
      -- each patient's newest (two orders sharing a number hold two patients' results)
      SELECT DISTINCT ON (r.subject_id) r.result_id, r.subject_id, r.analyte, r.collected_at
        FROM results r
       WHERE r.source = k.source AND r.result_key = k.result_key AND r.cancelled_at IS NULL
         AND r.status = 'P'
       ORDER BY r.subject_id, r.recorded_at DESC) AS p
UNION ALL
SELECT CASE w.status WHEN 'P' THEN 'withdrawn preliminary' ELSE 'withdrawn' END, k.source,
       k.result_key, NULL, w.subject_id, NULL, w.analyte, NULL, w.collected_at, w.loinc,
       w.value, w.unit, w.reference_low, w.reference_high, w.abnormal_flag, w.comparator,
       NULL, NULL
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
  CROSS JOIN LATERAL (
      -- every withdrawn version, each patient's (a late copy of one must not stand again)
      SELECT r.subject_id, r.analyte, r.status, r.collected_at, r.loinc, r.value, r.unit,
             r.reference_low, r.reference_high, r.abnormal_flag, r.comparator FROM results r
       WHERE r.source = k.source AND r.result_key = k.result_key
         AND r.cancelled_at IS NOT NULL
       ORDER BY r.recorded_at DESC LIMIT 100) AS w
UNION ALL
-- each key that holds any row, of any patient and status (standing, preliminary, superseded
-- or withdrawn), or is claimed (migration 0022): the careful path's write has the guard check
-- that a key read holding none still holds none (``assert_batch_current``'s result keys), and
-- claims it; a claimed key is never read as empty, so a batch is never refused for ever on a
-- claim whose rows are gone (deleted by hand). An index probe or two per key
SELECT 'held', k.source, k.result_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
 WHERE EXISTS (SELECT 1 FROM results r
                WHERE r.source = k.source AND r.result_key = k.result_key)
    OR EXISTS (SELECT 1 FROM result_key_claims c
                WHERE c.source = k.source AND c.result_key = k.result_key)
UNION ALL
-- a replay's ($6) only: when each key's chain last changed, the latest arrival of a message
-- that stored a version there (any patient's, any status) or withdrawal of one (in the
-- collected_at column): a kept message is applied as of when it first arrived
SELECT 'changed', k.source, k.result_key, NULL, NULL, NULL, NULL, NULL, c.changed_at, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest($4::text[], $5::text[]) AS k(source, result_key)
  CROSS JOIN LATERAL (
      SELECT max(greatest(m.received_at, r.cancelled_at)) AS changed_at
        FROM results r JOIN messages m ON m.message_id = r.message_id
       WHERE r.source = k.source AND r.result_key = k.result_key) AS c
 WHERE $6::boolean AND c.changed_at IS NOT NULL
"""  # noqa: S608 - only the fixed BEFORE_* markers are interpolated

# The stored result each key names: results stored under that very key (never through
# result_identifiers, another result's other identifiers: review 122), with the analytes of
# its rows and the hospital numbers' hashes of their subjects. Index probes per key.
STORED_RESULTS = """
SELECT k.source, k.key, k.key AS result_key, a.analytes, a.patients
  FROM unnest($1::text[], $2::text[]) AS k(source, key)
 CROSS JOIN LATERAL (
       SELECT array_agg(DISTINCT r.analyte) AS analytes,
              array_agg(DISTINCT s.hospital_id_hmac)
                  FILTER (WHERE s.hospital_id_hmac IS NOT NULL) AS patients
         FROM results r LEFT JOIN enrolled_subjects s ON s.subject_id = r.subject_id
        WHERE r.source = k.source AND r.result_key = k.key) AS a
 WHERE a.analytes IS NOT NULL
"""

# The results (any status, standing or withdrawn) of the subjects ($1) of the analytes ($2),
# whatever the sender, with their keys' parts (migration 0031; keyed hashes), statuses,
# collection times, the channel their message came over and the HL7 sender a FHIR one's
# token was bound to (migration 0039: its laboratory), and whether each is its chain's
# head (a standing final or corrected result no standing one supersedes; the partial index
# results_superseded_once), and their ids (one row each: a batch withdrawing a chain knows
# its versions withdrawn by them, ``copy_outcomes``): asked only for a result whose key holds
# no final result (``copies_elsewhere``). Probes of each subject's results
# (results_by_subject), never a scan of every sender's.
STANDING_RESULTS = """
SELECT r.subject_id, r.source, r.result_key, r.analyte, r.identifier_parts, r.status,
       r.collected_at, r.value, r.unit, r.comparator, m.channel, m.feed_of, r.result_id,
       r.cancelled_at IS NOT NULL AS withdrawn,
       r.cancelled_at IS NULL AND r.status IN ('F', 'C') AND NOT EXISTS (
           SELECT 1 FROM results s
            WHERE s.supersedes_result_id = r.result_id
              AND s.cancelled_at IS NULL AND s.status IN ('F', 'C')) AS head
  FROM results r
  JOIN messages m ON m.message_id = r.message_id
 WHERE r.subject_id = ANY($1::text[]) AND r.analyte = ANY($2::text[])
"""

COMMITTED_ATTEMPT = "SELECT attempt FROM committed_batches WHERE token = $1"

# Tokens are kept an hour, far beyond any retry (5 s), and pruned after one write in
# PRUNE_ONE_WRITE_IN (chosen by its random token): pruning after every write made each 6%
# slower, the insert alone costs next to nothing. The limit keeps up with any rate, and SKIP
# LOCKED never makes one instance's prune wait for another's. Its own statement, run after
# the batch committed, whose failure is ignored (``LabIngestionUnitOfWork``): housekeeping
# never fails a lab's write (review 145: in the write, a DELETE revoked on the table made
# one message in 64 answered AE and never stored).
PRUNE_ONE_WRITE_IN = 64
PRUNE_TOKENS = """
DELETE FROM committed_batches WHERE token IN (
    SELECT token FROM committed_batches
     WHERE committed_at < now() - interval '1 hour'
     ORDER BY committed_at LIMIT 1024 FOR UPDATE SKIP LOCKED)
"""


def prunes(token: uuid.UUID | None) -> bool:
    """Whether old tokens are pruned after the write of the batch ``token`` names."""
    return token is not None and token.int % PRUNE_ONE_WRITE_IN == 0


WRITE = f"""
WITH committed_batch AS (
    -- the batch's attempt token (none: not from the group committer) and this attempt's id:
    -- a retry's write waits here for an earlier attempt still committing, and is refused if
    -- that one committed (migrations 0020, 0027)
    INSERT INTO committed_batches (token, attempt)
    SELECT $12::uuid, $15::uuid WHERE $12::uuid IS NOT NULL
), guard AS (
    -- and that the lab's other feed holds not, nor held, the sample of a final result taken
    -- for new ($20-$26, $29: the fast path's; migrations 0033, 0034, 0036, 0038: a withdrawn
    -- one too; 0039: a FHIR result's laboratory is its token's bound HL7 sender), and that
    -- no number whose messages it discarded as nobody's at their senders' sites is a
    -- subject's former one ($27, $28 all NULL: 0035; review 201: not $1's numbers
    -- taken for nobody's anywhere, which missed one another site enrolled since and held
    -- PID-4's numbers)
    SELECT assert_batch_current($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
           AND assert_no_former_numbers($27::text[], $28::text[])
           AND assert_samples_never_held_across_bound_feeds(
                   $20::text[], $21::text[], $22::text[], $23::timestamptz[], $24::text[],
                   $26::text[], $29::text[], $25::interval)
           AS current
), claimed_keys AS (
    -- the keys written as new (taken for holding no row) claim their first write: another
    -- batch writing one as new at the same moment waits here for this one, and is refused
    -- (migration 0022). Each key once, sorted, and before any result row (new_results reads
    -- these claims first): two batches writing new keys alike wait at the first they share,
    -- holding no result row the other would wait for.
    INSERT INTO result_key_claims (source, result_key)
    SELECT * FROM unnest($13::text[], $14::text[]) WHERE (SELECT current FROM guard)
    RETURNING 1
), result_identifiers_written AS (
    -- a FHIR result's other identifiers, each naming the key it is stored under (0028);
    -- each claims its key too (unless a result of the batch claims it above): a batch that
    -- took it for new is refused, and reads which result it names (review 121)
    INSERT INTO result_identifiers (source, identifier_key, result_key)
    SELECT * FROM unnest($16::text[], $17::text[], $18::text[])
     WHERE (SELECT count(*) FROM claimed_keys) >= 0
    ON CONFLICT DO NOTHING
), identifier_claims AS (
    INSERT INTO result_key_claims (source, result_key)
    SELECT * FROM unnest($16::text[], $17::text[])
     WHERE (SELECT count(*) FROM claimed_keys) >= 0
    ON CONFLICT DO NOTHING
), new_messages AS (
    -- each with its laboratory beside it ($30: a FHIR message's token's bound HL7 sender,
    -- migration 0039; the row type stays as instances not yet upgraded write it)
    INSERT INTO messages (message_id, source, control_id, channel, outcome, subject_id,
                          result_count, received_at, content_digest, cancellations, feed_of)
    SELECT * FROM unnest($6::message_row[], $30::text[])
     WHERE (SELECT current FROM guard)
), new_results AS (
    INSERT INTO results (result_id, message_id, subject_id, source, result_key, analyte, loinc,
                         value, unit, original_value, original_unit, reference_low,
                         reference_high, abnormal_flag, status, collected_at, reported_at,
                         supersedes_result_id, cancelled_at, laboratory_comment, comparator,
                         cancelled_by_message, identifier_parts, report_field)
    SELECT * FROM unnest($7::result_row[]) WHERE (SELECT count(*) FROM claimed_keys) >= 0
), cancelled AS (
    -- a cancellation withdraws the result with every earlier version of it (same patient),
    -- each naming the message whose cancellation it is ($19, beside its result id in $8;
    -- migration 0030): set with cancelled_at, by the one writer that withdraws the row (a
    -- row another instance withdrew meanwhile is left as it withdrew it). A chain named
    -- twice is the first message's
    UPDATE results r SET cancelled_at = $9, cancelled_by_message = w.message_id
      FROM (SELECT DISTINCT ON (c.source, c.result_key, c.subject_id)
                   c.source, c.result_key, c.subject_id, k.message_id
              FROM unnest($8::uuid[], $19::uuid[]) WITH ORDINALITY AS k(result_id, message_id, n)
              JOIN results c ON c.result_id = k.result_id
             ORDER BY c.source, c.result_key, c.subject_id, k.n) AS w
     WHERE cardinality($8::uuid[]) > 0 AND r.cancelled_at IS NULL
       AND (r.source, r.result_key, r.subject_id) = (w.source, w.result_key, w.subject_id)
), new_rejections AS (
    INSERT INTO rejections (rejection_id, channel, source, control_id, reason_code, reason,
                            payload, received_at, patient_hmac, content_digest)
    SELECT * FROM unnest($10::rejection_row[])
    ON CONFLICT (rejection_id) DO NOTHING  -- a batch re-run after a lost commit answer
)
INSERT INTO outbox {OUTBOX_COLUMNS} SELECT * FROM {outbox_unnest(11)}
ON CONFLICT (event_id) DO NOTHING  -- the rejection's event, likewise
"""  # noqa: S608 - only the outbox's fixed column list and placeholders are interpolated
