-- Accepted messages' control ids and results' keys are stored as keyed hashes of what the
-- message says (adapters/stored_ids.py): laboratory systems build them from a name, a birth
-- date or a visit number, none of which may be kept. The hash needs the service's key,
-- which the database never sees: this table marks the ids stored as written before this
-- migration, and lab-ingestion hashes them (once, in one transaction) when it starts, before
-- it takes any message; `cachexia rejection replay` does the same before it writes.
CREATE TABLE stored_ids_hashing (
    only_row  boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    hashed_at timestamptz
);
INSERT INTO stored_ids_hashing (only_row, hashed_at)
SELECT true, CASE WHEN EXISTS (SELECT 1 FROM messages) THEN NULL ELSE now() END;
