-- An operator closes a rejection that no replay settles (review 197: a FHIR or JSON input is
-- never replayed, the laboratory resends it, so `cachexia rejection list --open` listed such
-- rejections forever and could not serve as a worklist). `closed_as` says why, from a fixed
-- list (never free text: an operator's words could name the patient): `resent`, the
-- laboratory sent the input again; `not-needed`, it holds nothing the trial keeps (a test
-- message, another study's result). A closed rejection is not replayed; a replayed one is
-- not closed (it is settled already). Columns only: instances of earlier versions keep
-- working and never read them.
ALTER TABLE rejections
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closed_as text CONSTRAINT rejections_closed_as_known
        CHECK (closed_as IN ('resent', 'not-needed')),
    ADD CONSTRAINT rejections_closed_with_reason CHECK ((closed_at IS NULL) = (closed_as IS NULL));
