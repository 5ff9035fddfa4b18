-- An article whose page gave no date it could read: kept, with the time it was first seen as its
-- publication time, and marked so that no feed or digest shows that time as a real date.
ALTER TABLE articles ADD COLUMN undated BOOLEAN NOT NULL DEFAULT FALSE;
