-- Test-only state: how many times each event changed it.
CREATE TABLE applied_events (
    event_id uuid    PRIMARY KEY,
    times    integer NOT NULL
);
