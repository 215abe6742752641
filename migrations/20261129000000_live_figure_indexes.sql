-- Indexes for the dashboards' and the diagnostics' live figures, which are sampled every few seconds and
-- must cost what is happening, not the size of the tables (at 1M orders each of these was a full scan).
--
-- Only an imported order can share its quote with another: two PLATFORM orders of one quote are refused by
-- uq_order_source_quote. Every group of more than one order per quote therefore holds an imported order,
-- and probing the few imported orders finds them all (duplicate_orders, the duplicate-order detector).
create index ix_sales_order_imported on oms.sales_order (tenant_id, source_quote_id)
  where origin <> 'PLATFORM' and source_quote_id is not null;

-- Vendor calls that failed lately (worker_failures_per_minute): a few rows of a table with one per line.
create index ix_fulfillment_request_failed on oms.fulfillment_request (updated_at) where status = 'FAILED';
