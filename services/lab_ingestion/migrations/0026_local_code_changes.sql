-- Every change of a sender's local code mappings, kept for audit: which LOINC code a local
-- code was read as, from when to when (a result's published code is the one its mapping
-- gave when it was received). Written by a trigger, so that nothing changes a mapping
-- unrecorded: `cachexia source code add | remove`, a sender's removal (its mappings go with
-- it, a cascade) or a hand-made statement alike. loinc NULL: the mapping was removed.
CREATE TABLE local_code_changes (
    change_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    application text        NOT NULL,
    facility    text        NOT NULL,
    system      text        NOT NULL,
    code        text        NOT NULL,
    loinc       text
);
CREATE INDEX local_code_changes_by_sender ON local_code_changes (application, facility, changed_at);

CREATE FUNCTION record_local_code_change() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO local_code_changes (application, facility, system, code, loinc)
        VALUES (OLD.application, OLD.facility, OLD.system, OLD.code, NULL);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.loinc IS NOT DISTINCT FROM OLD.loinc
       AND (NEW.application, NEW.facility, NEW.system, NEW.code)
           = (OLD.application, OLD.facility, OLD.system, OLD.code) THEN
        RETURN NEW;  -- mapped again as it was: nothing changed
    END IF;
    IF TG_OP = 'UPDATE' THEN  -- a key changed by hand: the old one is gone
        INSERT INTO local_code_changes (application, facility, system, code, loinc)
        SELECT OLD.application, OLD.facility, OLD.system, OLD.code, NULL
         WHERE (NEW.application, NEW.facility, NEW.system, NEW.code)
               <> (OLD.application, OLD.facility, OLD.system, OLD.code);
    END IF;
    INSERT INTO local_code_changes (application, facility, system, code, loinc)
    VALUES (NEW.application, NEW.facility, NEW.system, NEW.code, NEW.loinc);
    RETURN NEW;
END $$;

CREATE TRIGGER local_codes_recorded AFTER INSERT OR UPDATE OR DELETE ON local_codes
    FOR EACH ROW EXECUTE FUNCTION record_local_code_change();

-- TRUNCATE fires no row trigger: every mapping it takes is recorded as removed
CREATE FUNCTION record_local_codes_truncated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO local_code_changes (application, facility, system, code, loinc)
    SELECT application, facility, system, code, NULL FROM local_codes;
    RETURN NULL;
END $$;

CREATE TRIGGER local_codes_truncation_recorded BEFORE TRUNCATE ON local_codes
    FOR EACH STATEMENT EXECUTE FUNCTION record_local_codes_truncated();

-- the mappings kept before this migration, as they stand
INSERT INTO local_code_changes (changed_at, application, facility, system, code, loinc)
SELECT added_at, application, facility, system, code, loinc FROM local_codes;
