-- appgen: recovering deliveries the queue lost.
--
-- Cloud Tasks (and the local dispatcher) deliver at least once, but a worker can die mid-step (Cloud Run
-- recycles instances, a laptop's `appgen dev` gets killed) and an enqueue can fail after the database
-- decided a step. The database knows every step it is owed, so the sweeper asks it what to send again:
-- leases are short and renewed by a live worker's heartbeat, so a dead worker's task is back within one
-- lease; a dispatched step nobody claimed is sent again after a grace period; a queued job whose owner
-- has a free slot is started.
--
-- Error codes: none raised here.

-- How many times the sweeper re-sent a task: part of the delivery's name, because a queue refuses to
-- reuse the name of a task it has already run (Cloud Tasks keeps names for hours after completion).
alter table public.app_generation_tasks add column redelivery integer not null default 0;

-- What the sweeper re-sends: a dispatch plus the redelivery number that names it.
create type public.app_generation_redispatch as (
  kind text,
  job_id uuid,
  task_id uuid,
  delay_seconds integer,
  redelivery integer
);

-- ============================================================================================
-- renew_task_lease: a live worker's heartbeat
-- ============================================================================================
-- running (same attempt, job still active) -> lease extended to now() + p_lease_seconds. Returns false
-- when the task is no longer this worker's (superseded attempt, finished, or its job stopped), which the
-- worker takes as a signal to stop.
create function public.renew_task_lease(p_task_id uuid, p_attempt integer, p_lease_seconds integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.app_generation_tasks t
  set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
  from public.app_generation_jobs j
  where t.id = p_task_id and t.attempt = p_attempt and t.status = 'running'
    and j.id = t.job_id and j.status in ('running', 'fixing');
  return found;
end;
$$;

revoke execute on function public.renew_task_lease(uuid, integer, integer) from public, anon, authenticated;
grant execute on function public.renew_task_lease(uuid, integer, integer) to service_role;

-- ============================================================================================
-- redispatch_owed_tasks: steps the queue owes the database, sent again by the sweeper
-- ============================================================================================
-- Of active jobs (running | fixing):
--   running tasks whose lease ran out (their worker died: claim_task lets the next attempt take over);
--   pending tasks that were dispatched, are due (not_before passed) and were not claimed within
--   p_grace_seconds of being due (the enqueue or the queue's copy was lost).
-- Each returned task gets redelivery + 1 and dispatched_at = now(), so the next sweep waits a grace
-- period again instead of flooding the queue. Then, for owners with a free running slot, the oldest
-- queued job older than the grace period is returned as a 'start' (its start message was lost).
-- `for update skip locked`: concurrent sweeps split the work instead of sending a task twice.
create function public.redispatch_owed_tasks(p_limit integer default 100, p_grace_seconds integer default 60)
returns setof public.app_generation_redispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_grace constant interval := make_interval(secs => p_grace_seconds);
begin
  return query
  with owed as (
    select t.id from public.app_generation_tasks t
    join public.app_generation_jobs j on j.id = t.job_id and j.status in ('running', 'fixing')
    where (t.status = 'running' and t.lease_expires_at < now())
       or (t.status = 'pending' and t.dispatched_at is not null
           and greatest(t.dispatched_at, coalesce(t.not_before, t.dispatched_at)) < now() - v_grace)
    order by t.created_at
    limit greatest(p_limit, 0)
    for update of t skip locked
  ), resent as (
    update public.app_generation_tasks t
    set redelivery = t.redelivery + 1, dispatched_at = now()
    from owed where t.id = owed.id
    returning t.kind, t.job_id, t.id, t.redelivery
  )
  select r.kind, r.job_id, r.id, 0, r.redelivery from resent r;

  return query
  select d.kind, d.job_id, d.task_id, d.delay_seconds, 0
  from (select distinct j.owner_id from public.app_generation_jobs j
        where j.status = 'queued' and j.created_at < now() - v_grace) o
  cross join lateral public.app_generation_next_queued(o.owner_id) d
  limit greatest(p_limit, 0);
end;
$$;

revoke execute on function public.redispatch_owed_tasks(integer, integer) from public, anon, authenticated;
grant execute on function public.redispatch_owed_tasks(integer, integer) to service_role;

-- ============================================================================================
-- Refunds: a cancelled job never counts against the daily cap
-- ============================================================================================
-- Cancelling stops the job before it delivers anything, so its owner got nothing for it; a job that
-- failed for reasons that are not the user's is refunded as before.
create or replace function public.app_generation_refunded(j public.app_generation_jobs) returns boolean
language sql immutable
set search_path = ''
as $$
  select (j.status = 'failed' and j.error_code in (
            'internal', 'timeout', 'agent_quota', 'model_unavailable', 'agent_auth', 'agent_config',
            'dispatch_failed', 'storage_failed'))
      or j.status = 'cancelled'
$$;
