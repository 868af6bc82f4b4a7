-- Whether a message's content digest was made reading a trial result's OBX-7 split by a
-- unit's plain caret whole (`1.8-7.5 x10^9/L`, twenty-third session). Those stored before
-- read its first component alone (`1.8-7.5 x10`), and a resend of such a message after the
-- upgrade is compared with that reading too (domain/message_identity.py,
-- `ranges_read_before`); one stored since never is: a message whose OBX-7 was cut short
-- after a power base and then sent whole under its id would pass for it (review 129). Every
-- message stored from now on has a digest made so (the default, after the rows already
-- stored took false).
ALTER TABLE messages ADD COLUMN digest_reads_split_ranges boolean NOT NULL DEFAULT false;
ALTER TABLE messages ALTER COLUMN digest_reads_split_ranges SET DEFAULT true;
