-- Indexes for the month reports, charts and exports (core/src/reports): each figure is an
-- aggregate over a time range, so the ranges need an index to start from.

-- (Subscribers by creation and by expiry are indexed since 0001 and 0012.)
-- Paid orders by payment date (revenue).
CREATE INDEX idx_orders_paid_at ON orders (status, paid_at);
-- Panel changes finished in a month (creation and sync success rates).
CREATE INDEX idx_sync_jobs_finished_at ON sync_jobs (finished_at);
