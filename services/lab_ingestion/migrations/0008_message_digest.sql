-- What a stored message said (a digest of its results: keys, tests, values, units, statuses,
-- collection times, and the patient's keyed hash). A message id sent again with other
-- content is not a resend but a second message under a reused id, a correction for instance:
-- answered as a duplicate it would be dropped. NULL for messages stored before this column.
ALTER TABLE messages ADD COLUMN content_digest text;
ALTER TYPE message_row ADD ATTRIBUTE content_digest text;

-- Messages about patients not enrolled are no longer kept (not even their ids): rows kept by
-- earlier versions would answer the lab's resend, once the enrolment reached this service,
-- as a duplicate, and the result would never be stored. No result refers to them.
DELETE FROM messages WHERE outcome = 'not-enrolled';
