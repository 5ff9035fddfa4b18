-- Addresses nashra must not write to: refused for good by the relay (a 5xx at RCPT naming the
-- address, or an address that cannot be used), with the reply that said so. Kept by address, so
-- removing and adding the subscriber again does not lift it; `subscribers unsuppress` does.
CREATE TABLE suppressions (
    email      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
