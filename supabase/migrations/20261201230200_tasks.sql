-- appgen: tenant hardening of the tasks domain: exact privileges, start_job starting only the job it was
-- asked to start, and the task RPCs reading the spec from its own table.
--
-- Error codes: AGIV0 invalid input (finish_task, unchanged).

-- ============================================================================================
-- Exact privileges on tasks
-- ============================================================================================
-- Owners read the tasks of their own jobs (RLS; the summaries view counts finished pages from them);
-- only the task RPCs and the service role write them.

revoke all on public.app_generation_tasks from anon, authenticated;
grant select on public.app_generation_tasks to authenticated;

-- ============================================================================================
-- start_job starts only the job it was asked to start
-- ============================================================================================
-- start_job(x) used to start its owner's oldest queued job whatever x was, so a duplicate start message
-- for a job already running (Cloud Tasks delivers at least once; the sweeper re-sends starts) took a
-- free slot for a different queued job. Now a start message counts only while x itself is queued.

-- ============================================================================================
-- start_job: the orchestrator hands a queued job a running slot
-- ============================================================================================
-- Acts only while p_job_id is queued; for a job that is running, ended or unknown it does nothing, so a
-- duplicate or late start message cannot start anything else. While it is queued, the owner's free running
-- slots (the policy's running_jobs_per_user minus the jobs running or fixing) go to the owner's queued jobs
-- in submission order, up to and including p_job_id: a job submitted earlier whose own start message is
-- still on its way, or was lost, is never overtaken. Each started job goes queued -> running. When the
-- slots run out before p_job_id's turn, it stays queued and starts when a slot frees (the RPCs that end a
-- job return a 'start' for the owner's oldest queued job). Returns the scaffold step of each started job.
create or replace function public.start_job(p_job_id uuid)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid;
  v_next uuid;
begin
  select owner_id into v_owner from public.app_generation_jobs where id = p_job_id;
  if not found then
    return;
  end if;
  -- The per-user lock submit_job takes too: two start_job calls for two queued jobs of one user must not
  -- both count one running job and both start (the cap would be exceeded). The status is read again
  -- under the lock: a concurrent start of the same job may have started it meanwhile.
  perform pg_advisory_xact_lock(hashtextextended('appgen.user:' || v_owner::text, 0));
  if not exists (select 1 from public.app_generation_jobs where id = p_job_id and status = 'queued') then
    return;  -- already started, cancelled or failed: a duplicate start does nothing
  end if;

  perform public.app_generation_set_reason('slot available');
  loop
    select d.job_id into v_next from public.app_generation_next_queued(v_owner) d;
    exit when v_next is null;  -- no free slot: a finishing job hands it out
    update public.app_generation_jobs
    set status = 'running', stage = 'scaffold', attempt_count = attempt_count + 1
    where id = v_next and status = 'queued';
    if found then  -- (not found: its owner cancelled it this instant; the next one gets the slot)
      return query select * from public.app_generation_add_task(v_next, 'scaffold');
    end if;
    exit when v_next = p_job_id;
  end loop;
end;
$$;

revoke execute on function public.start_job(uuid) from public, anon, authenticated;
grant execute on function public.start_job(uuid) to service_role;

-- ============================================================================================
-- The task RPCs read the spec from app_generation_job_specs
-- ============================================================================================

-- ============================================================================================
-- claim_task: a worker takes a delivered task
-- ============================================================================================
-- pending (and not_before reached) -> running, or running with an expired lease -> running (the worker
-- that held it died). attempt += 1; the lease lasts p_lease_seconds (default: the policy's). The job's
-- stage becomes the one of the task's kind. Returns the task with its job's stage, spec, fix-loop budget
-- and inputs (for fix round n: the failing validation of round n-1 and the result of fix round n-1);
-- returns nothing when the delivery is stale (task finished, held by a live worker, not due yet, job
-- stopped).
create or replace function public.claim_task(p_task_id uuid, p_lease_seconds integer default null)
returns table (
  task_id uuid, job_id uuid, owner_id uuid, project_id uuid, kind text, key text, attempt integer,
  stage text, fix_round integer, max_fix_rounds integer, deadline_at timestamptz, generation_spec jsonb,
  inputs jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lease constant integer := coalesce(p_lease_seconds, (public.app_generation_policy()).task_lease_seconds);
begin
  -- Tasks of jobs that stopped are closed instead of run.
  update public.app_generation_tasks t
  set status = 'cancelled', finished_at = now()
  from public.app_generation_jobs j
  where t.id = p_task_id and j.id = t.job_id
    and t.status in ('pending', 'running')
    and j.status not in ('running', 'fixing');

  return query
  with claimed as (
    update public.app_generation_tasks t
    set status = 'running', attempt = t.attempt + 1, started_at = now(),
        lease_expires_at = now() + make_interval(secs => v_lease)
    where t.id = p_task_id
      and ((t.status = 'pending' and (t.not_before is null or t.not_before <= now()))
           or (t.status = 'running' and t.lease_expires_at < now()))
    returning t.*
  ), staged as (
    update public.app_generation_jobs j
    set stage = s.name
    from claimed c join public.app_generation_stages s on s.task_kind = c.kind
    where j.id = c.job_id
    returning j.*
  )
  select c.id, c.job_id, c.owner_id, s.project_id, c.kind, c.key, c.attempt,
         s.stage, s.fix_round, s.max_fix_rounds, s.deadline_at, sp.generation_spec,
         case when c.kind = 'fix' then jsonb_build_object(
           'failure', (select v.result from public.app_generation_tasks v
                       where v.job_id = c.job_id and v.kind = 'validate' and v.key = (c.key::integer - 1)::text),
           'previousFix', (select f.result from public.app_generation_tasks f
                           where f.job_id = c.job_id and f.kind = 'fix' and f.key = (c.key::integer - 1)::text))
         else '{}'::jsonb end
  from claimed c join staged s on s.id = c.job_id
  join public.app_generation_job_specs sp on sp.job_id = c.job_id;
end;
$$;

revoke execute on function public.claim_task(uuid, integer) from public, anon, authenticated;
grant execute on function public.claim_task(uuid, integer) to service_role;

-- ============================================================================================
-- finish_task: a worker reports success; the database decides what runs next
-- ============================================================================================
-- running (same attempt) -> succeeded. Then, by kind:
--   scaffold  -> page tasks for every page; the first page_parallelism of them dispatched
--   page      -> the next undispatched page (the window slides), or integrate when it was the last page
--   integrate -> validate round 0
--   validate  -> package when result.outcome is 'passed' or 'install_failed'; otherwise fix round n+1
--                while rounds, time and new error signatures remain (the fix policy); otherwise the job
--                fails (build_failed, or timeout)
--   fix       -> validate of the same round
--   package   -> the job completes (completed_with_warnings when it has warnings); needs its artifact
-- Returns the steps to dispatch. A stale or duplicate report returns nothing and changes nothing.
-- Raises AGIV0 when a package task reports success without a recorded artifact.
create or replace function public.finish_task(
  p_task_id uuid, p_attempt integer, p_result jsonb default '{}'::jsonb,
  p_tokens_input bigint default 0, p_tokens_output bigint default 0
) returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_task public.app_generation_tasks;
  v_job public.app_generation_jobs;
  v_round integer;
  v_signature text;
  v_repeats integer := (public.app_generation_policy()).repeated_error_limit;
begin
  select * into v_task from public.app_generation_tasks where id = p_task_id;
  if not found then
    return;
  end if;
  -- Serialize all finishes of one job on its row: without this, two last pages finishing at the same
  -- time would each still see the other running (READ COMMITTED) and neither would start integration.
  select * into v_job from public.app_generation_jobs where id = v_task.job_id for update;

  update public.app_generation_tasks
  set status = 'succeeded', result = coalesce(p_result, '{}'::jsonb), finished_at = now(),
      lease_expires_at = null, tokens_input = p_tokens_input, tokens_output = p_tokens_output
  where id = p_task_id and status = 'running' and attempt = p_attempt;
  if not found or v_job.status not in ('running', 'fixing') then
    return;
  end if;

  update public.app_generation_jobs
  set tokens_input = tokens_input + p_tokens_input, tokens_output = tokens_output + p_tokens_output
  where id = v_job.id;

  if v_task.kind = 'scaffold' then
    insert into public.app_generation_tasks (job_id, owner_id, kind, key, ordinal)
    select v_job.id, v_job.owner_id, 'page', p.page ->> 'pageId', p.ordinal::integer
    from public.app_generation_job_specs sp
    cross join lateral jsonb_array_elements(sp.generation_spec -> 'pages') with ordinality as p(page, ordinal)
    where sp.job_id = v_job.id
    on conflict (job_id, kind, key) do nothing;
    return query select * from public.app_generation_release_pages(v_job.id, v_job.page_parallelism);

  elsif v_task.kind = 'page' then
    if exists (select 1 from public.app_generation_tasks
               where job_id = v_job.id and kind = 'page' and status <> 'succeeded') then
      return query select * from public.app_generation_release_pages(v_job.id, v_job.page_parallelism);
    else
      update public.app_generation_jobs set stage = 'integrate' where id = v_job.id;
      return query select * from public.app_generation_add_task(v_job.id, 'integrate');
    end if;

  elsif v_task.kind = 'integrate' then
    return query select * from public.app_generation_add_task(v_job.id, 'validate', '0');

  elsif v_task.kind = 'fix' then
    return query select * from public.app_generation_add_task(v_job.id, 'validate', v_task.key);

  elsif v_task.kind = 'validate' then
    v_round := v_task.key::integer;
    if p_result ->> 'outcome' in ('passed', 'install_failed') then
      return query select * from public.app_generation_add_task(v_job.id, 'package', v_task.key);
      return;
    end if;
    v_signature := coalesce(p_result ->> 'signature', '');
    if v_round >= v_job.max_fix_rounds then
      return query select * from public.app_generation_fail_job(v_job.id, 'build_failed',
        format('The app still fails to build after %s fix rounds: %s', v_round, p_result ->> 'summary'));
    elsif now() >= v_job.deadline_at then
      return query select * from public.app_generation_fail_job(v_job.id, 'timeout',
        'The job reached its time limit while the app still failed to build.');
    elsif (select count(*) from public.app_generation_tasks
           where job_id = v_job.id and kind = 'validate' and status = 'succeeded'
             and result ->> 'signature' = v_signature) >= v_repeats then
      -- The same error survived the fix rounds in between: more rounds would only churn.
      return query select * from public.app_generation_fail_job(v_job.id, 'build_failed',
        format('The same build error repeated after %s fix rounds: %s', v_repeats - 1, p_result ->> 'summary'));
    else
      perform public.app_generation_set_reason(format('validation failed (round %s)', v_round));
      update public.app_generation_jobs
      set status = 'fixing', stage = 'fix', fix_round = v_round + 1
      where id = v_job.id;
      return query select * from public.app_generation_add_task(v_job.id, 'fix', (v_round + 1)::text);
    end if;

  elsif v_task.kind = 'package' then
    if not exists (select 1 from public.app_generation_artifacts a where a.job_id = v_job.id) then
      raise exception 'package task of job % finished without an artifact', v_job.id using errcode = 'AGIV0';
    end if;
    perform public.app_generation_set_reason('artifact stored');
    update public.app_generation_jobs
    set status = case when jsonb_array_length(warnings) > 0
                      then 'completed_with_warnings' else 'completed' end::public.app_generation_status,
        stage = 'done'
    where id = v_job.id;
    return query select * from public.app_generation_next_queued(v_job.owner_id);
  end if;
end;
$$;

revoke execute on function public.finish_task(uuid, integer, jsonb, bigint, bigint) from public, anon, authenticated;
grant execute on function public.finish_task(uuid, integer, jsonb, bigint, bigint) to service_role;
