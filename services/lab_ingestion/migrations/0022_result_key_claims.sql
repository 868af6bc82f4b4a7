-- The first write under a result key, claimed in a unique index (known limit of review 84's
-- fix). A batch writes a key as new when it took the key for holding no row: the fast path
-- without a read, the careful path where its read found none. The guard (0018's
-- assert_batch_current) checks that the key still holds none, but it sees the database as it
-- was when the write statement began: another instance's batch writing the same key, whose
-- statement ran at the same moment, committed unseen, and both stood (a result the lab had
-- withdrawn in one batch left standing, and published, by the other's copy of it). A claim
-- does not depend on what a statement sees: the second writer of a new key waits for the
-- first to commit and is then refused on this key, and its batch is planned again from a
-- read. Results are never deleted, so a key claimed once holds rows for good.
CREATE TABLE result_key_claims (
    source     text NOT NULL,
    -- as stored in results: its keyed hash (migration 0019), never the key as written
    result_key text NOT NULL CONSTRAINT result_key_claims_hashed
        CHECK (result_key ~ '^#[0-9a-f]{32}$'),
    PRIMARY KEY (source, result_key)
);

-- Keys written before this migration are claimed here; those an earlier version stored as
-- written (the service hashes them at its start, after the migrations: stored_ids.py) are
-- claimed as they are hashed, never kept here as written (review 85).
INSERT INTO result_key_claims (source, result_key)
SELECT DISTINCT source, result_key FROM results WHERE result_key ~ '^#[0-9a-f]{32}$';
