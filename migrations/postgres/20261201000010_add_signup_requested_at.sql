-- When the reader last asked, on the web, to (re)join: a confirmation applies only to a request
-- made after their last unsubscribe, so an old confirmation link cannot undo an opt-out.
ALTER TABLE subscribers ADD COLUMN requested_at TIMESTAMPTZ;
