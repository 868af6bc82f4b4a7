-- lab-ingestion commits a batch every few milliseconds under load, and the outbox trigger's
-- NOTIFY made every one of those commits wake the relay's listening backend and then the
-- service (measured: about a tenth of PostgreSQL's CPU per message, and 4-10 % of the MLLP
-- throughput). The relay runs in the same process as the writer, so the unit of work wakes
-- it directly after each commit that wrote events; events written by another instance
-- (several instances on Apache Kafka, one relay leader) are found by the relay's poll
-- (CACHEXIA_OUTBOX_POLL_SECONDS).
DROP TRIGGER outbox_inserted ON outbox;
