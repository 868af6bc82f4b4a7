-- lab-ingestion commits a batch every few milliseconds under load, and the outbox trigger's
-- NOTIFY made every one of those commits wake the relay's listening backend and then the
-- service (measured without it: PostgreSQL's CPU per message 10-12 % lower, MLLP throughput
-- 0-8 % higher). The relay runs in the same process as the writer, so the unit of work wakes
-- it directly after each commit that wrote events; events written by another instance
-- (several instances on Apache Kafka, one relay leader) are found by the relay's poll
-- (CACHEXIA_OUTBOX_POLL_SECONDS).
DROP TRIGGER outbox_inserted ON outbox;
