-- Bearer tokens for the HTTP APIs. Only a SHA-256 digest of each token is stored: tokens are
-- 256-bit random secrets, so a fast digest is enough and makes lookups cheap.
CREATE TABLE api_tokens (
    token_id     uuid        PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('lab', 'site', 'safety', 'unblinded', 'ops')),
    token_sha256 bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
