-- An order line carries the pricing of the quote line it was captured from: the real unit (list) price,
-- the discount in basis points, and the net amount — the money. Before this, unit_price_minor held the
-- net divided by the quantity in integers, which lost the remainder (100.00 for 3 → 33.33 × 3 = 99.99).
-- Now the net is reproduced exactly from the line's own columns, as the quote priced it
-- (QuoteLineInput::net_minor: half-up to the minor unit), and sum(net_minor) over the lines is the order
-- total.
--
-- Lines captured before this migration keep discount_bp null: their unit_price_minor is the truncated
-- net per unit, so the check below does not apply to them. Nothing rewrites them (a change of business
-- state is a command, not a migration); their net_minor was, and stays, exact.
alter table oms.sales_order_line
  add column discount_bp integer check (discount_bp between 0 and 10000);
alter table oms.sales_order_line
  add constraint ck_order_line_net_is_priced check (
    discount_bp is null
    or net_minor = div(unit_price_minor::numeric * quantity * (10000 - discount_bp) + 5000, 10000));
