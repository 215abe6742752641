-- The bare-SQL floor of the order-fulfillment reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select ol.order_line_id from oms.sales_order_line ol
  left join oms.fulfillment_request fr on fr.order_line_id = ol.order_line_id
  group by ol.order_line_id, ol.status
  having count(fr.fulfillment_request_id) filter (where fr.status in ('SENT', 'ACKNOWLEDGED', 'COMPLETED')) > 1
  or (ol.status = 'FULFILLMENT_REQUESTED' and count(fr.fulfillment_request_id) = 0)
  or (ol.status = 'FULFILLED') <> coalesce(bool_or(fr.status = 'COMPLETED'), false);
