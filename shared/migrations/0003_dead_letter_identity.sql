-- Dead letters keep the exact key bytes (text cannot hold NUL or invalid UTF-8; message_key
-- stays as the readable, escaped form) and are stored once per consumed message, so that a
-- batch redelivered after a crash between the commit and the offset commit changes nothing.
-- The identity includes a digest of the value: after the embedded broker lost its data
-- (memory only) or a topic was re-created, a different message can come at the same offset.
ALTER TABLE dead_letters ADD COLUMN message_key_bytes bytea;
ALTER TABLE dead_letters
    ADD COLUMN value_sha256 bytea GENERATED ALWAYS AS (sha256(value)) STORED;

-- copies stored by redeliveries before this migration: keep the first of each
DELETE FROM dead_letters AS later
USING dead_letters AS first
WHERE later.consumer = first.consumer
  AND later.topic = first.topic
  AND later.partition = first.partition
  AND later."offset" = first."offset"
  AND later.value_sha256 = first.value_sha256
  AND later.id > first.id;

CREATE UNIQUE INDEX dead_letters_message
    ON dead_letters (consumer, topic, partition, "offset", value_sha256);
