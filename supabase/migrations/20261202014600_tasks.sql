-- appgen: the retry backoff counts transient failures, not claims.
--
-- A task's `attempt` grows with every claim, and a claim also happens when the sweeper re-sends a task
-- whose worker died (a Cloud Run instance recycled mid-step) or that the queue delivered twice. Choosing
-- the 20 / 60 / 180 s wait by `attempt` let such a redelivery eat the 20 s slot (and a task redelivered
-- three times gave up at its first transient failure). Each task now counts its transient failures.

alter table public.app_generation_tasks
  add column transient_failures integer not null default 0
    check (transient_failures >= 0);  -- transient failures reported so far (they choose the backoff)

-- ============================================================================================
-- fail_task: a worker reports a failure; transient ones are retried with the policy's backoff
-- ============================================================================================
-- Whether a failure is transient is a property of its error code (app_generation_error_codes). running
-- (same attempt) -> pending with not_before = now() + the policy's backoff for the task's nth transient
-- failure (20 s, 60 s, 180 s after the 1st, 2nd, 3rd: Cloud Tasks can only double its backoff, so the
-- exact schedule is ours; claims by redelivery do not count), else -> failed, and the job fails with the
-- task's error. Returns what to dispatch (the delayed retry, or the owner's next queued job). A stale
-- report returns nothing. Raises AGIV0 for an error code the table does not know.
create or replace function public.fail_task(p_task_id uuid, p_attempt integer, p_code text, p_message text)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_backoff constant integer[] := (public.app_generation_policy()).retry_backoff_seconds;
  v_transient boolean;
  v_task public.app_generation_tasks;
  v_nth integer;
begin
  select c.transient into v_transient from public.app_generation_error_codes c where c.code = p_code;
  if not found then
    raise exception 'unknown error code %', p_code using errcode = 'AGIV0';
  end if;
  select * into v_task from public.app_generation_tasks where id = p_task_id;
  if not found then
    return;
  end if;
  perform 1 from public.app_generation_jobs where id = v_task.job_id for update;
  v_nth := v_task.transient_failures + 1;

  if v_transient and v_nth <= array_length(v_backoff, 1) then
    update public.app_generation_tasks
    set status = 'pending', lease_expires_at = null, dispatched_at = now(),
        not_before = now() + make_interval(secs => v_backoff[v_nth]),
        transient_failures = v_nth,
        error_code = p_code, error_message = left(p_message, 2000)
    where id = p_task_id and status = 'running' and attempt = p_attempt
    returning * into v_task;
    if found then
      return query select v_task.kind, v_task.job_id, v_task.id, v_backoff[v_nth];
    end if;
    return;
  end if;

  update public.app_generation_tasks
  set status = 'failed', finished_at = now(), lease_expires_at = null,
      transient_failures = transient_failures + (case when v_transient then 1 else 0 end),
      error_code = p_code, error_message = left(p_message, 2000)
  where id = p_task_id and status = 'running' and attempt = p_attempt;
  if not found then
    return;
  end if;
  return query select * from public.app_generation_fail_job(
    v_task.job_id, p_code,
    case when v_transient
         then format('%s (gave up after %s attempts)', p_message, v_nth)
         else p_message end);
end;
$$;
