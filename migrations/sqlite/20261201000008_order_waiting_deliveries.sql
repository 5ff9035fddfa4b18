-- Waiting messages in the order senders take them — by due time, then content (readers of the
-- same digest together), then id — so that a sender can carry on after the last one it took
-- instead of walking again past the rows it has just sent.
DROP INDEX deliveries_pending;
CREATE INDEX deliveries_pending ON deliveries (due_at, content_id, id) WHERE status = 'pending';
