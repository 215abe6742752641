-- The MD5 of the finding an open mismatch last wrote (its JSON text as the check built it): a whole run
-- compares what it finds with it in its own read-only statement, so that a detector finding tens of
-- thousands again builds and writes only what is new or changed. Null (written before, or by the console's
-- JSON) reads as changed: the next whole run writes it once.
alter table ops.reconciliation_mismatch add column finding_digest text;
