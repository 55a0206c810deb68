-- appgen: what the package step reads to write the build report.
--
-- The guardrails themselves need no new rule in the database: the validate step removes database
-- artifacts and scrubs secrets, and reports code that still uses an ORM as a failed validation, so
-- `finish_task` already asks for a fix round while rounds remain and fails the job (build_failed) with
-- the guard's summary when none do. What the database must give back is every step's stored result, so
-- the ZIP's `appgen-report.json` can list the steps, the fix rounds with their failing output and diff,
-- the token usage per task and the fidelity figures, without carrying any of it between tasks.
--
-- Error codes: none raised here.

-- ============================================================================================
-- list_job_tasks: every step of a job with its result, for the build report
-- ============================================================================================
-- Read-only. Steps in pipeline order (scaffold, pages in spec order, integrate, then validate/fix rounds
-- by round number, package). Unknown jobs give no rows. Workers only: the results hold build output
-- that owners read through the redacted logs and the report inside their ZIP instead.
create function public.list_job_tasks(p_job_id uuid)
returns table (
  task_id uuid, kind text, key text, status public.app_generation_task_status, attempt integer,
  result jsonb, error_code text, error_message text, tokens_input bigint, tokens_output bigint,
  started_at timestamptz, finished_at timestamptz
)
language sql stable
security definer
set search_path = ''
as $$
  select t.id, t.kind, t.key, t.status, t.attempt, t.result, t.error_code, t.error_message,
         t.tokens_input, t.tokens_output, t.started_at, t.finished_at
  from public.app_generation_tasks t
  where t.job_id = p_job_id
  order by case t.kind when 'scaffold' then 0 when 'page' then 1 when 'integrate' then 2
                       when 'package' then 4 else 3 end,
           t.ordinal,
           case when t.kind in ('validate', 'fix') then t.key::integer end,
           t.kind  -- round n: 'fix' n, then 'validate' n
$$;

revoke execute on function public.list_job_tasks(uuid) from public, anon, authenticated;
grant execute on function public.list_job_tasks(uuid) to service_role;
