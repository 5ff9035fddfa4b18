-- Named leases for work that one process at a time may do (planning the editions of one
-- schedule): held by `owner` until `expires_at`, in milliseconds since the epoch by the
-- database's clock, so every instance judges a lease by the same clock.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
