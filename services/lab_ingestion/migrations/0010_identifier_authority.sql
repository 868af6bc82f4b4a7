-- The assigning authority (HL7 PID-3 CX-4, FHIR Identifier.system) of the hospital numbers a
-- sender's patients are matched by. A number is unique only within its authority: when a
-- message names its patient by numbers of several authorities, this one chooses; without it
-- such a message is rejected (ambiguous-patient-identifier), and a sender that has one never
-- has a number of another authority matched.
ALTER TABLE sources ADD COLUMN identifier_authority text;
