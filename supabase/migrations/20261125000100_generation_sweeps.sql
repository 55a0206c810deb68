-- appgen: the rules the sweepers (Cloud Scheduler -> `cleanup`) apply, and corrections to earlier areas.
--
-- Error codes: none raised here; sweeps are idempotent and bounded by p_limit.

-- ============================================================================================
-- fail_overdue_jobs: jobs past their 45-minute deadline fail with code `timeout`
-- ============================================================================================
-- running | fixing -> failed (error_code 'timeout') when deadline_at has passed. Workers also check the
-- deadline between steps, but a hung or crashed worker never reports: without this sweep such a job would
-- hold one of its owner's two running slots for ever. Open tasks are cancelled (a late worker's finish is
-- then a no-op) and each freed slot hands out the owner's next queued job, returned for dispatch.
-- `for update skip locked`: two concurrent sweeps split the overdue jobs instead of waiting on each other;
-- app_generation_fail_job re-checks the status inside its UPDATE, so a job that finished meanwhile stays.
create function public.fail_overdue_jobs(p_limit integer default 100)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job uuid;
begin
  for v_job in
    select j.id from public.app_generation_jobs j
    where j.status in ('running', 'fixing') and j.deadline_at < now()
    order by j.deadline_at
    limit greatest(p_limit, 0)
    for update skip locked
  loop
    return query select * from public.app_generation_fail_job(
      v_job, 'timeout', 'The job reached its 45-minute limit before it finished.');
  end loop;
end;
$$;

revoke execute on function public.fail_overdue_jobs(integer) from public, anon, authenticated;
grant execute on function public.fail_overdue_jobs(integer) to service_role;

-- ============================================================================================
-- Refunds: the codes the agent runner reports for the model's own outages
-- ============================================================================================
-- The runner reports a model quota exhaustion as `agent_quota` and a model outage as `model_unavailable`;
-- neither is the user's doing, so such failed jobs do not count against the daily cap.
create or replace function public.app_generation_refunded(j public.app_generation_jobs) returns boolean
language sql immutable
set search_path = ''
as $$
  select (j.status = 'failed' and j.error_code in (
            'internal', 'timeout', 'agent_quota', 'model_unavailable', 'agent_auth', 'agent_config',
            'dispatch_failed', 'storage_failed'))
      or (j.status = 'cancelled' and j.started_at is null)
$$;

-- ============================================================================================
-- Queue order: jobs submitted in the same instant start in a fixed order
-- ============================================================================================
create or replace function public.app_generation_next_queued(p_owner uuid)
returns setof public.app_generation_dispatch
language sql stable
security definer
set search_path = ''
as $$
  select 'start'::text, j.id, null::uuid, 0
  from public.app_generation_jobs j
  where j.owner_id = p_owner and j.status = 'queued'
    and (select count(*) from public.app_generation_jobs r
         where r.owner_id = p_owner and r.status in ('running', 'fixing')) < 2
  order by j.created_at, j.id
  limit 1
$$;

-- ============================================================================================
-- Logs are append-only for the service role too
-- ============================================================================================
-- The update trigger already refuses rewrites; deleting lines would rewrite history as well. Rows still
-- go when their job row is deleted (the foreign key's cascade runs as the table owner).
revoke delete, truncate on public.app_generation_logs from service_role;
