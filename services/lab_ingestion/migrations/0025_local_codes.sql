-- A sender's local test codes mapped to the trial's LOINC codes (`cachexia source code`):
-- a laboratory that writes only its own code in OBX-3 (CRP^C-reactive protein^L) has its
-- results read as the LOINC code's (domain/local_codes.py). Keyed as the sender writes the
-- code: its coding system (CE-3/CWE-3, upper case, '' for none) and the code. A sender taken
-- off the allow-list takes its mappings with it.
CREATE TABLE local_codes (
    application text        NOT NULL,
    facility    text        NOT NULL,
    system      text        NOT NULL CONSTRAINT local_codes_system_compared CHECK (system = upper(btrim(system))),
    code        text        NOT NULL CONSTRAINT local_codes_code_given CHECK (code = btrim(code) AND code <> ''),
    loinc       text        NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application, facility, system, code),
    FOREIGN KEY (application, facility) REFERENCES sources (application, facility) ON DELETE CASCADE
);
