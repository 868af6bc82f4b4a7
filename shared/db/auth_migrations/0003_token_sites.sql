-- The site whose subjects a site token reads: a multi-site double-blind trial's site staff
-- see only their own site's subjects (GCP confidentiality). NULL for every other role, and
-- for a site token created before this column: it reads no subject (403) until replaced by
-- one created with --site. Compared as enrolments write it (trial.subjects.v1 site_id).
ALTER TABLE api_tokens ADD COLUMN site text
    CHECK (site IS NULL OR (role = 'site' AND length(site) BETWEEN 1 AND 32));
