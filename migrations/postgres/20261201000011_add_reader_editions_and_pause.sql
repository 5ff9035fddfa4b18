-- The editions a reader chose (none: every edition, as for readers added before they could
-- choose), and a pause: until then no digest is planned for them, and what was published
-- meanwhile is not sent when it ends.
ALTER TABLE subscribers ADD COLUMN paused_until TIMESTAMPTZ;
CREATE TABLE subscriber_editions (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    schedule      TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, schedule)
);
