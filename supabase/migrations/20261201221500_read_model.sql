-- appgen: the read model — what an owner sees of a job (status, stage, progress, warnings, error,
-- artifact) and of their list of jobs.
--
-- It summarises the jobs, tasks and artifacts of the migrations before it, so it comes after them. The
-- view and the functions run as their caller (security invoker): RLS decides what a caller sees, and
-- another user's job is simply absent.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Job summaries: one row per job with its computed progress
-- ============================================================================================
-- Progress: the stage's percent, plus its pages span spread over the job's pages, plus its step per fix
-- round (app_generation_stages); 100 once the job completed.
create view public.app_generation_job_summaries
with (security_invoker = true)
as
select
  j.id as job_id,
  j.owner_id,
  j.project_id,
  j.status,
  j.stage,
  case
    when j.status in ('completed', 'completed_with_warnings', 'expired') then 100
    else s.percent
         + s.pages_span * coalesce(pages.done, 0) / greatest(j.page_count, 1)
         + s.fix_round_step * least(j.fix_round, j.max_fix_rounds)
  end::integer as percent,
  coalesce(pages.done, 0)::integer as pages_done,
  j.page_count as pages_total,
  j.fix_round,
  j.max_fix_rounds,
  j.warnings,
  j.error_code,
  j.error_message,
  j.tokens_input,
  j.tokens_output,
  j.created_at,
  j.started_at,
  j.finished_at,
  j.updated_at,
  a.size_bytes as artifact_size_bytes,
  a.checksum as artifact_checksum
from public.app_generation_jobs j
join public.app_generation_stages s on s.name = j.stage
left join lateral (
  select count(*) filter (where t.status = 'succeeded') as done
  from public.app_generation_tasks t where t.job_id = j.id and t.kind = 'page'
) pages on true
left join public.app_generation_artifacts a on a.job_id = j.id and a.delete_requested_at is null;

comment on view public.app_generation_job_summaries is
  'One row per job with computed progress; security_invoker, so owners see only their own jobs.';

revoke insert, update, delete, truncate on public.app_generation_job_summaries from anon, authenticated;
revoke all on public.app_generation_job_summaries from anon;

-- ============================================================================================
-- get_job, list_jobs
-- ============================================================================================

-- One job of the caller (RLS), or no row.
create function public.get_job(p_job_id uuid)
returns setof public.app_generation_job_summaries
language sql stable
set search_path = ''
as $$
  select * from public.app_generation_job_summaries where job_id = p_job_id
$$;

-- The caller's jobs, newest first, optionally of one project; at most the policy's page size.
create function public.list_jobs(p_project_id uuid default null, p_limit integer default 20)
returns setof public.app_generation_job_summaries
language sql stable
set search_path = ''
as $$
  select * from public.app_generation_job_summaries
  where p_project_id is null or project_id = p_project_id
  order by created_at desc, job_id
  limit least(greatest(p_limit, 1), (public.app_generation_policy()).jobs_page_max)
$$;

revoke execute on function public.get_job(uuid) from public, anon;
revoke execute on function public.list_jobs(uuid, integer) from public, anon;
grant execute on function public.get_job(uuid) to authenticated, service_role;
grant execute on function public.list_jobs(uuid, integer) to authenticated, service_role;
