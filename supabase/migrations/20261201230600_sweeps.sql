-- appgen: the scratch sweep reads a job's page ids from app_generation_job_specs
-- (20261201230100_jobs.sql), where the spec moved so that Supabase Realtime does not broadcast it.
-- Behaviour is unchanged.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Scratch storage of ended jobs
-- ============================================================================================
-- Jobs that started (a job that never ran wrote nothing) and ended more than p_settle_seconds ago
-- (default: the policy's; a worker that has not noticed a cancel yet may still upload its last snapshot).
-- Returns the page ids and the last fix round, from which the snapshot names follow.
create or replace function public.list_scratch_to_clear(p_limit integer default null, p_settle_seconds integer default null)
returns table (job_id uuid, page_ids text[], fix_round integer)
language sql stable
security definer
set search_path = ''
as $$
  select j.id,
         array(select p.page ->> 'pageId'
               from public.app_generation_job_specs sp
               cross join lateral jsonb_array_elements(sp.generation_spec -> 'pages') with ordinality p(page, n)
               where sp.job_id = j.id order by p.n),
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
