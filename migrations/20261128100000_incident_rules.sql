-- Incidents finished against the lesson (issue 8): §26.9 "every serious incident should improve tests,
-- alerts, runbooks, or architecture" needs an architecture action item; §20.2 "say the capability
-- affected and what customer action is needed" needs the customer's action on a customer update.

alter table ops.action_item drop constraint action_item_item_type_check;
alter table ops.action_item add constraint action_item_item_type_check
  check (item_type in ('TEST', 'ALERT', 'RUNBOOK', 'ARCHITECTURE', 'DASHBOARD', 'CONTROL', 'CODE_FIX', 'PROCESS'));

-- What a customer must do (for a CUSTOMER update; "nothing" is a valid answer). The capability, in the
-- customer's words, goes in affected_capability.
alter table ops.status_update add column customer_action text;
