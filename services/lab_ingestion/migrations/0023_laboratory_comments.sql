-- Whether the laboratory commented on a result (an HL7 NTE after its OBX or its order's OBR,
-- or about the patient; a FHIR Observation.note; the JSON format's laboratory_comment): never
-- the comment's text, which may name anyone, only that there is one, so that a clinician
-- reads it in the hospital's system before acting on the value (platelet clumps: a falsely
-- low count). Results stored before were read without their comments: false there says
-- nothing was known, not that the laboratory wrote none.
ALTER TABLE results ADD COLUMN laboratory_comment boolean NOT NULL DEFAULT false;
ALTER TYPE result_row ADD ATTRIBUTE laboratory_comment boolean;

-- Whether a message's content digest covers its comments (domain/message_identity.py):
-- those of messages stored before do not, and a lab's resend of such a message, comment and
-- all, must still be known as the message it repeats (its digest is compared as it was made
-- then). Every message stored from now on has one that does (the default, after the rows
-- already stored took false).
ALTER TABLE messages ADD COLUMN digest_covers_comments boolean NOT NULL DEFAULT false;
ALTER TABLE messages ALTER COLUMN digest_covers_comments SET DEFAULT true;
