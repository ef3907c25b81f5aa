-- 006: drift classes are declared once, in mediasync/drift.py (kind -> finder query, action, queue
-- reason); every query takes the kinds from there. The CHECK of 004 was a second copy of that
-- list, so it goes.
ALTER TABLE mediasync.reconciliation_items DROP CONSTRAINT IF EXISTS reconciliation_items_kind_check;
