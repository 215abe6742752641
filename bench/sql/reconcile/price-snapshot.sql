-- The bare-SQL floor of the price-snapshot reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select q.quote_id from cpq.quote q join cpq.quote_line l on l.quote_id = q.quote_id
  group by q.quote_id having q.total_minor <> sum(l.net_minor);
