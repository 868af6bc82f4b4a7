-- The batches whose write committed, by the attempt token the group committer gives each
-- batch (the same for every retry of it) (review 58). A commit can reach the database and its
-- answer be lost (a connection reset right after COMMIT, a fail-over): the batch is retried,
-- and without this its retry found its own messages stored and answered each as a duplicate
-- (AA "already stored" for a first send, a resend in the metrics, its results never counted).
-- The retry asks here first: committed, it answers what the lost attempt had planned. The
-- batch's write inserts its token itself, so a row means the batch committed; the primary key
-- refuses a second write under a token, and a retry that reaches its write while the earlier
-- attempt is still committing waits for it. Rows are pruned by the write after an hour.
CREATE TABLE committed_batches (
    token        uuid        PRIMARY KEY,
    committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX committed_batches_by_age ON committed_batches (committed_at);
