-- appgen: the rules the sweepers (Cloud Scheduler -> `cleanup`, or the local stack's timer) apply —
-- deadlines and scratch storage of ended jobs. (Re-sending lost deliveries is redispatch_owed_tasks, with
-- the tasks; deleting expired artifacts is list_artifacts_to_delete, with the artifacts.)
--
-- Error codes: none raised here; sweeps are idempotent and bounded by p_limit (default: the policy's
-- sweep batch).

-- ============================================================================================
-- fail_overdue_jobs: jobs past their deadline fail with code `timeout`
-- ============================================================================================
-- running | fixing -> failed (error_code 'timeout') when deadline_at has passed. Workers also check the
-- deadline between steps, but a hung or crashed worker never reports: without this sweep such a job would
-- hold one of its owner's running slots for ever. Open tasks are cancelled (a late worker's finish is
-- then a no-op) and each freed slot hands out the owner's next queued job, returned for dispatch.
-- `for update skip locked`: two concurrent sweeps split the overdue jobs instead of waiting on each other;
-- app_generation_fail_job re-checks the status inside its UPDATE, so a job that finished meanwhile stays.
create function public.fail_overdue_jobs(p_limit integer default null)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job record;
begin
  for v_job in
    select j.id, j.time_limit from public.app_generation_jobs j
    where j.status in ('running', 'fixing') and j.deadline_at < now()
    order by j.deadline_at
    limit greatest(coalesce(p_limit, (public.app_generation_policy()).sweep_batch), 0)
    for update skip locked
  loop
    return query select * from public.app_generation_fail_job(
      v_job.id, 'timeout',
      format('The job reached its %s-minute limit before it finished.',
             round(extract(epoch from v_job.time_limit) / 60)));
  end loop;
end;
$$;

revoke execute on function public.fail_overdue_jobs(integer) from public, anon, authenticated;
grant execute on function public.fail_overdue_jobs(integer) to service_role;

-- ============================================================================================
-- Scratch storage of ended jobs
-- ============================================================================================
-- Steps hand workspaces to each other as snapshots in scratch storage (scaffold, page bundles, one
-- workspace per fix round). Once a job has ended they are dead weight, whatever the ending (completed,
-- failed, cancelled, expired). Their names follow from the job (its pages and fix rounds), so no listing
-- of the bucket is needed: the sweeper asks which jobs still have scratch, deletes those objects through
-- the storage API and confirms, like artifact retention.

-- Jobs that started (a job that never ran wrote nothing) and ended more than p_settle_seconds ago
-- (default: the policy's; a worker that has not noticed a cancel yet may still upload its last snapshot).
-- Returns the page ids and the last fix round, from which the snapshot names follow.
create function public.list_scratch_to_clear(p_limit integer default null, p_settle_seconds integer default null)
returns table (job_id uuid, page_ids text[], fix_round integer)
language sql stable
security definer
set search_path = ''
as $$
  select j.id,
         array(select p ->> 'pageId' from jsonb_array_elements(j.generation_spec -> 'pages') p),
         j.fix_round
  from public.app_generation_jobs j
  where j.scratch_cleared_at is null and j.started_at is not null
    and j.status in ('completed', 'completed_with_warnings', 'failed', 'expired', 'cancelled')
    and j.finished_at < now() - make_interval(
      secs => coalesce(p_settle_seconds, (public.app_generation_policy()).scratch_settle_seconds))
  order by j.finished_at
  limit greatest(coalesce(p_limit, (public.app_generation_policy()).sweep_batch), 0)
$$;

revoke execute on function public.list_scratch_to_clear(integer, integer) from public, anon, authenticated;
grant execute on function public.list_scratch_to_clear(integer, integer) to service_role;

-- Records that a job's scratch objects were deleted (idempotent).
create function public.confirm_scratch_cleared(p_job_id uuid) returns void
language sql
security definer
set search_path = ''
as $$
  update public.app_generation_jobs set scratch_cleared_at = now()
  where id = p_job_id and scratch_cleared_at is null
$$;

revoke execute on function public.confirm_scratch_cleared(uuid) from public, anon, authenticated;
grant execute on function public.confirm_scratch_cleared(uuid) to service_role;
