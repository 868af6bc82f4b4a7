-- What a rejection's replay checks its kept copy against (keyed hashes only, no PHI): the
-- keyed hash of the patient's number and the content digest of the message as it was read
-- (NULL when the message could not be read, or named no one patient); and how the last
-- replay went. A rejection is open until a replay stored it (replayed_at).
ALTER TABLE rejections
    ADD COLUMN patient_hmac   text,
    ADD COLUMN content_digest text,
    ADD COLUMN replay_outcome text;
ALTER TYPE rejection_row
    ADD ATTRIBUTE patient_hmac   text,
    ADD ATTRIBUTE content_digest text;
-- `cachexia rejection list`: the open ones, newest first, by sender and reason
CREATE INDEX rejections_open ON rejections (received_at DESC) WHERE replayed_at IS NULL;
CREATE INDEX rejections_by_source ON rejections (source, reason_code, received_at DESC);
