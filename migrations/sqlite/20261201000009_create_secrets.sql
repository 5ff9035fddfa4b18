-- Secrets the service makes for itself when the operator configured none: the key that signs
-- subscribers' links (`link-key`). Made once by the first instance to need it (the others read
-- it), so every instance signs and verifies alike.
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
