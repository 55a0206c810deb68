-- appgen: the job summaries carry the job's version (20261202010100_jobs.sql), so that get_job and
-- list_jobs return it over both transports and the event stream can tell a new state from one it sent.
-- The job object of the API does not show it; the events' ids do.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Job summaries: the same view, plus the version as its last column
-- ============================================================================================
-- `create or replace` keeps the view's grants (20261201230500_read_model.sql) and may only add columns
-- at the end; get_job and list_jobs return `setof` the view and select `*`, so they return it too.
create or replace view public.app_generation_job_summaries
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
  a.checksum as artifact_checksum,
  j.version
from public.app_generation_jobs j
join public.app_generation_stages s on s.name = j.stage
left join lateral (
  select count(*) filter (where t.status = 'succeeded') as done
  from public.app_generation_tasks t where t.job_id = j.id and t.kind = 'page'
) pages on true
left join public.app_generation_artifacts a on a.job_id = j.id and a.delete_requested_at is null;
