-- Accepted messages' control ids and results' keys are stored as keyed hashes of what the
-- message says (adapters/stored_ids.py: `#` and 32 hex digits): laboratory systems build them
-- from a name, a birth date or a visit number, none of which may be kept. The database
-- refuses any other from now on, so an instance of an earlier version still running (or
-- rolled back to) cannot write one: its batch fails and the lab is told to resend. The hash
-- needs the service's key, which the database never sees: ids stored as written before this
-- migration are left to lab-ingestion, which hashes them when it starts, before it takes any
-- message (`cachexia rejection replay` and `cachexia message show` do the same first), and
-- then validates these constraints; a validated pair means there is nothing left to hash.
ALTER TABLE messages ADD CONSTRAINT messages_control_id_hashed
    CHECK (control_id ~ '^#[0-9a-f]{32}$') NOT VALID;
ALTER TABLE results ADD CONSTRAINT results_result_key_hashed
    CHECK (result_key ~ '^#[0-9a-f]{32}$') NOT VALID;
