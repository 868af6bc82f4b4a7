-- The time zone a sender writes local times in (an IANA name such as Europe/Zurich). HL7
-- times without a UTC offset are in the sender's zone; MSH-7's offset stands in for it only
-- when none is configured, and is wrong for a sample taken before a clock change and sent
-- after it.
ALTER TABLE sources ADD COLUMN time_zone text;
