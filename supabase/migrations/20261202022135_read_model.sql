-- appgen: the job summaries carry each page's fidelity to its preview (issue 13), so that the job object
-- shows per page the share of the preview's words (`text`), of its interactive parts (`structure`) and
-- how alike it looks at 1280 and 390 px (`visualDesktop`, `visualMobile`), not only the logs.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Job summaries: the same view, plus the fidelity of the latest passing validation as its last column
-- ============================================================================================
-- The figures are the validate step's own result (written by `finish_task`, never by a user), so nothing
-- new is stored: the latest round whose build passed is the app the ZIP holds. `create or replace` keeps
-- the view's grants and may only add columns at the end; get_job and list_jobs select `*` from it. The
-- lateral subquery reads app_generation_tasks as the caller (security_invoker), whose policy "Owners can
-- read the tasks of their own jobs" shows an owner exactly the rows of the job they already see.
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
  j.version,
  coalesce(fidelity.pages, '[]'::jsonb) as fidelity
from public.app_generation_jobs j
join public.app_generation_stages s on s.name = j.stage
left join lateral (
  select count(*) filter (where t.status = 'succeeded') as done
  from public.app_generation_tasks t where t.job_id = j.id and t.kind = 'page'
) pages on true
left join lateral (
  -- One object per page in the API's shape; a figure that was not measured is null.
  select jsonb_agg(jsonb_build_object(
           'pageId', f.value ->> 'pageId',
           'text', f.value -> 'textRatio',
           'structure', f.value -> 'structureRatio',
           'visualDesktop', f.value #> '{visual,desktop,score}',
           'visualMobile', f.value #> '{visual,mobile,score}')
         order by f.ordinality) as pages
  from (
    select t.result -> 'fidelity' as figures
    from public.app_generation_tasks t
    where t.job_id = j.id and t.kind = 'validate' and t.status = 'succeeded'
      and t.result ->> 'outcome' = 'passed' and jsonb_typeof(t.result -> 'fidelity') = 'array'
    order by t.key::integer desc
    limit 1
  ) latest
  cross join lateral jsonb_array_elements(latest.figures) with ordinality as f(value, ordinality)
) fidelity on true
left join public.app_generation_artifacts a on a.job_id = j.id and a.delete_requested_at is null;
