-- Several CRP values of one sample (one subject, one collection time: two sub-ids of one
-- order, a re-run under a new filler order number, CRP and hs-CRP in one order) all stand in
-- the series, and the series was ordered by collection time, then by result_id: a random
-- uuid4, so which of them was "the newest" (PROTOCOL.md section 3) was drawn by chance
-- (review 274). received_seq numbers the results as they are stored: the batch's statement
-- inserts them in the order their events were read (topic offset order; one subject's events
-- are in one partition), so the later-received value is the later point.
-- Rows stored before this migration are numbered by recorded_at (the start of the batch that
-- stored them: one subject's batches run one after another), then by their place in the
-- table within one batch (whose insert had no order then). Never in the table's physical
-- order alone (review 277: a row stored later into space a cancellation freed, or a rewrite
-- starting where another scan stopped, numbered the later value first). Numbers are never
-- reused; a rolled-back batch leaves gaps, which mean nothing. A version before this one
-- never names the column in its INSERT, and its rows are numbered all the same.
ALTER TABLE crp_results ADD COLUMN received_seq bigint;
UPDATE crp_results AS r
   SET received_seq = numbered.seq
  FROM (SELECT result_id, row_number() OVER (ORDER BY recorded_at, ctid) AS seq
          FROM crp_results) AS numbered
 WHERE r.result_id = numbered.result_id;
ALTER TABLE crp_results ALTER COLUMN received_seq SET NOT NULL;
ALTER TABLE crp_results ALTER COLUMN received_seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('crp_results', 'received_seq'),
              coalesce(max(received_seq), 0) + 1, false)
  FROM crp_results;
