-- appgen: log lines in commit order per job, and a notification for each, so that the job event stream
-- (`GET /api/agentic/jobs/{jobId}/events`) and the logs pages can follow a job's lines by id without
-- ever skipping one.
--
-- Error codes: none raised here.

-- ============================================================================================
-- append_job_log: one job's lines are appended one at a time
-- ============================================================================================
-- A line's id comes from the identity sequence when it is inserted, but it becomes visible when its
-- transaction commits. The page steps of one job append concurrently: line 10 could commit after line 11,
-- and a reader that had already moved its cursor to 11 (the stream, or a `logs?after=` client) would
-- never see line 10. The per-job advisory lock, taken before the id is drawn and held until commit,
-- makes one job's ids rise in commit order: once a reader sees a line, it has seen every earlier line
-- of that job. Other jobs' lines never wait.
create or replace function public.append_job_log(
  p_job_id uuid, p_task_id uuid, p_level text, p_stage text, p_message text
) returns bigint
language sql
security definer
set search_path = ''
as $$
  select pg_advisory_xact_lock(hashtextextended('appgen.job_logs:' || p_job_id::text, 0));
  insert into public.app_generation_logs (job_id, owner_id, task_id, level, stage, message)
  select j.id, j.owner_id, p_task_id, p_level, p_stage, left(public.app_generation_redact(p_message), 20000)
  from public.app_generation_jobs j where j.id = p_job_id
  returning id
$$;

-- ============================================================================================
-- Notifications: every new line wakes the streams that follow its job
-- ============================================================================================
-- One NOTIFY per line; the lines of one transaction fold into one notification (same channel, same
-- payload), and the stream reads every line after its cursor when it wakes.
create trigger app_generation_log_appended
  after insert on public.app_generation_logs
  for each row execute function public.app_generation_notify_job_change();
