-- Whether a message's content digest was made reading OBX-3's second alternate coding (HL7
-- v2.7's CWE-10 to 12, fixer 267): a trial result's codes there are covered now. Those
-- stored before never read it, and a resend of such a message after the upgrade (a lost
-- ACK) is compared with its codes as read then too (domain/message_identity.py,
-- `second_alternates_read_before`, where leaving them out changes no result's test); one
-- stored since never is: a message stored without a second alternate coding and sent again
-- under its id with one added (another test's code beside a CRP's) is other content. Every
-- message stored from now on has a digest made so (the default, after the rows already
-- stored took false). An instance not yet upgraded names no such column and keeps working;
-- a message it stores meanwhile takes true, so a resend of it to an upgraded instance whose
-- trial result has a second alternate coding is refused as a reused id and kept (never
-- dropped as a duplicate), as after 0029.
ALTER TABLE messages ADD COLUMN digest_reads_second_alternates boolean NOT NULL DEFAULT false;
ALTER TABLE messages ALTER COLUMN digest_reads_second_alternates SET DEFAULT true;
