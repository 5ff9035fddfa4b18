-- How far each reader's digests of a schedule reach: the end of the window of their latest
-- digest. The next one starts there, so no reader gets an article twice. Filled from the
-- messages already planned (those still waiting are not counted: they are not sent, see the
-- next migration, and their articles go in the reader's next digest).
CREATE TABLE digest_cursors (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    schedule      TEXT NOT NULL,
    covered_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subscriber_id, schedule)
);
INSERT INTO digest_cursors (subscriber_id, schedule, covered_until)
SELECT d.subscriber_id, e.schedule, MAX(e.window_end)
FROM deliveries d JOIN digest_editions e ON e.id = d.edition_id
WHERE d.status NOT IN ('pending', 'sending')
GROUP BY d.subscriber_id, e.schedule;
