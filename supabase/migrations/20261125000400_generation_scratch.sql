-- appgen: scratch storage of ended jobs.
--
-- Steps hand workspaces to each other as snapshots in scratch storage (scaffold, page bundles, one
-- workspace per fix round). Once a job has ended they are dead weight, whatever the ending (completed,
-- failed, cancelled, expired). Their names follow from the job (its pages and fix rounds), so no listing
-- of the bucket is needed: the sweeper asks which jobs still have scratch, deletes those objects through
-- the storage API and confirms, like artifact retention.
--
-- Error codes: none raised here.

alter table public.app_generation_jobs add column scratch_cleared_at timestamptz;

create index app_generation_jobs_scratch_idx on public.app_generation_jobs (finished_at)
  where scratch_cleared_at is null and started_at is not null;

-- ============================================================================================
-- list_scratch_to_clear: ended jobs whose snapshots are still in scratch storage
-- ============================================================================================
-- Jobs that started (a job that never ran wrote nothing) and ended more than p_settle_seconds ago (a
-- worker that has not noticed a cancel yet may still upload its last snapshot). Returns the page ids and
-- the last fix round, from which the snapshot names follow.
create function public.list_scratch_to_clear(p_limit integer default 100, p_settle_seconds integer default 60)
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
    and j.finished_at < now() - make_interval(secs => p_settle_seconds)
  order by j.finished_at
  limit greatest(p_limit, 0)
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
