-- Row type of the outbox insert: events are passed as one array of rows rather than one array
-- per column (fewer parameters, and the client encodes one row per element).
CREATE TYPE outbox_row AS (
    event_id    uuid,
    topic       text,
    message_key text,
    event_type  text,
    envelope    bytea
);
