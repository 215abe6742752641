-- A consumer pause is evidence (lesson §11.4): once written, only its resumption may be added, once.
create or replace function ops.guard_consumer_pause() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'ops.consumer_pause is evidence: DELETE refused';
  end if;
  if (new.pause_id, new.consumer_group, new.topic, new.partitions, new.reason, new.owner, new.expected_resume_condition,
      new.customer_impact, new.incident_id, new.started_at)
     is distinct from
     (old.pause_id, old.consumer_group, old.topic, old.partitions, old.reason, old.owner, old.expected_resume_condition,
      old.customer_impact, old.incident_id, old.started_at) then
    raise exception 'ops.consumer_pause: what was recorded cannot change';
  end if;
  if old.resumed_at is not null then
    raise exception 'ops.consumer_pause: the pause was already resumed';
  end if;
  return new;
end;
$$;
create trigger guard_consumer_pause before update or delete on ops.consumer_pause
  for each row execute function ops.guard_consumer_pause();
create trigger consumer_pause_truncate before truncate on ops.consumer_pause
  for each statement execute function platform.refuse_evidence_change();
