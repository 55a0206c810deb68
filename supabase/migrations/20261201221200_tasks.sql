-- appgen: pipeline tasks — starting a job, claiming a task under a lease, heartbeats, finishing and
-- failing a task (the fix policy and the retry backoff), and re-sending what the queue lost.
--
-- A job runs as a chain of tasks (DESIGN.md §7): scaffold -> page x N (windowed) -> integrate ->
-- validate -> [fix -> validate] x <= max_fix_rounds -> package. Every step is one row here. Delivery is
-- at least once, so claiming is idempotent (attempt number + lease), finishing a task that is not running
-- under that attempt is a no-op, and the RPCs that finish a task decide the next steps *in the database*
-- and return them as dispatch instructions; Python only enqueues what they return.
--
-- Error codes: AGIV0 invalid input.

-- ============================================================================================
-- Tasks
-- ============================================================================================
create type public.app_generation_task_status as enum (
  'pending',    -- -> running (claimed), cancelled
  'running',    -- -> succeeded, failed, pending (transient failure, retried later), cancelled
  'succeeded',  -- terminal
  'failed',     -- terminal
  'cancelled'   -- terminal: its job stopped
);

create table public.app_generation_tasks (
  id uuid primary key default gen_random_uuid(),
  job_id uuid not null references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  kind text not null references public.app_generation_stages (task_kind),
  key text not null default '',            -- pageId for page tasks, the round for validate/fix
  ordinal integer not null default 0,      -- page order in the spec (the window hands pages out in order)
  status public.app_generation_task_status not null default 'pending',
  attempt integer not null default 0,      -- incremented by each claim
  lease_expires_at timestamptz,
  not_before timestamptz,                  -- a transient retry may not run before this
  dispatched_at timestamptz,               -- when an RPC last told Python to enqueue it
  -- How many times the sweeper re-sent it: part of the delivery's name, because a queue refuses to reuse
  -- the name of a task it has already run (Cloud Tasks keeps names for hours after completion).
  redelivery integer not null default 0,
  result jsonb,
  error_code text references public.app_generation_error_codes (code),
  error_message text,
  tokens_input bigint not null default 0,
  tokens_output bigint not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- One row per step: concurrent fan-in inserts of the same next step collapse into one.
  unique (job_id, kind, key)
);

comment on table public.app_generation_tasks is
  'One row per pipeline step of a job. Written only by the task RPCs (service_role).';

create index app_generation_tasks_owner_idx on public.app_generation_tasks (owner_id);
create index app_generation_tasks_open_idx on public.app_generation_tasks (status, lease_expires_at)
  where status in ('pending', 'running');

alter table public.app_generation_tasks enable row level security;

create policy "Owners can read the tasks of their own jobs" on public.app_generation_tasks
  for select to authenticated using ((select auth.uid()) = owner_id);

revoke insert, update, delete, truncate on public.app_generation_tasks from anon, authenticated;

-- ============================================================================================
-- Helpers
-- ============================================================================================

-- Creates a task (idempotently: an existing row for the same step wins) and returns its dispatch.
-- Returns nothing when the step already exists, so two concurrent callers cannot both dispatch it.
create function public.app_generation_add_task(
  p_job_id uuid, p_kind text, p_key text default '', p_ordinal integer default 0
) returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  with inserted as (
    insert into public.app_generation_tasks (job_id, owner_id, kind, key, ordinal, dispatched_at)
    select j.id, j.owner_id, p_kind, p_key, p_ordinal, now()
    from public.app_generation_jobs j where j.id = p_job_id
    on conflict (job_id, kind, key) do nothing
    returning id
  )
  select p_kind, p_job_id, inserted.id, 0 from inserted;
end;
$$;

-- Hands out page tasks up to the job's parallelism window: as many undispatched pages as there are free
-- places (window minus pages dispatched and not yet succeeded), in spec order.
create function public.app_generation_release_pages(p_job_id uuid, p_window integer)
returns setof public.app_generation_dispatch
language sql
security definer
set search_path = ''
as $$
  with open_pages as (
    select count(*) as n from public.app_generation_tasks
    where job_id = p_job_id and kind = 'page' and dispatched_at is not null
      and status in ('pending', 'running')
  ), released as (
    update public.app_generation_tasks t set dispatched_at = now()
    where t.id in (
      select id from public.app_generation_tasks
      where job_id = p_job_id and kind = 'page' and dispatched_at is null
      order by ordinal
      limit greatest(0, p_window - (select n from open_pages))
    )
    returning t.kind, t.job_id, t.id
  )
  select kind, job_id, id, 0 from released
$$;

revoke execute on function public.app_generation_add_task(uuid, text, text, integer) from public, anon, authenticated;
revoke execute on function public.app_generation_release_pages(uuid, integer) from public, anon, authenticated;

-- ============================================================================================
-- start_job: the orchestrator hands a queued job a running slot
-- ============================================================================================
-- queued -> running when fewer than the policy's running_jobs_per_user of the owner's jobs are running or
-- fixing; otherwise the job stays queued and is started when a slot frees (the RPCs that end a job return
-- a 'start' for it). Jobs of one owner start in submission order. Returns the first step to dispatch, or
-- nothing (already started, cancelled, or waiting for a slot).
create function public.start_job(p_job_id uuid)
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
  -- both count one running job and both start (the cap would be exceeded).
  perform pg_advisory_xact_lock(hashtextextended('appgen.user:' || v_owner::text, 0));

  select d.job_id into v_next from public.app_generation_next_queued(v_owner) d;
  if v_next is null then
    return;  -- no free slot (or nothing queued): a finishing job will hand the slot out
  end if;

  perform public.app_generation_set_reason('slot available');
  update public.app_generation_jobs
  set status = 'running', stage = 'scaffold', attempt_count = attempt_count + 1
  where id = v_next and status = 'queued';

  return query select * from public.app_generation_add_task(v_next, 'scaffold');
end;
$$;

revoke execute on function public.start_job(uuid) from public, anon, authenticated;
grant execute on function public.start_job(uuid) to service_role;

-- ============================================================================================
-- claim_task: a worker takes a delivered task
-- ============================================================================================
-- pending (and not_before reached) -> running, or running with an expired lease -> running (the worker
-- that held it died). attempt += 1; the lease lasts p_lease_seconds (default: the policy's). The job's
-- stage becomes the one of the task's kind. Returns the task with its job's stage, spec, fix-loop budget
-- and inputs (for fix round n: the failing validation of round n-1 and the result of fix round n-1);
-- returns nothing when the delivery is stale (task finished, held by a live worker, not due yet, job
-- stopped).
create function public.claim_task(p_task_id uuid, p_lease_seconds integer default null)
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
         s.stage, s.fix_round, s.max_fix_rounds, s.deadline_at, s.generation_spec,
         case when c.kind = 'fix' then jsonb_build_object(
           'failure', (select v.result from public.app_generation_tasks v
                       where v.job_id = c.job_id and v.kind = 'validate' and v.key = (c.key::integer - 1)::text),
           'previousFix', (select f.result from public.app_generation_tasks f
                           where f.job_id = c.job_id and f.kind = 'fix' and f.key = (c.key::integer - 1)::text))
         else '{}'::jsonb end
  from claimed c join staged s on s.id = c.job_id;
end;
$$;

revoke execute on function public.claim_task(uuid, integer) from public, anon, authenticated;
grant execute on function public.claim_task(uuid, integer) to service_role;

-- ============================================================================================
-- renew_task_lease: a live worker's heartbeat
-- ============================================================================================
-- running (same attempt, job still active) -> lease extended to now() + p_lease_seconds. Returns false
-- when the task is no longer this worker's (superseded attempt, finished, or its job stopped), which the
-- worker takes as a signal to stop.
create function public.renew_task_lease(p_task_id uuid, p_attempt integer, p_lease_seconds integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.app_generation_tasks t
  set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
  from public.app_generation_jobs j
  where t.id = p_task_id and t.attempt = p_attempt and t.status = 'running'
    and j.id = t.job_id and j.status in ('running', 'fixing');
  return found;
end;
$$;

revoke execute on function public.renew_task_lease(uuid, integer, integer) from public, anon, authenticated;
grant execute on function public.renew_task_lease(uuid, integer, integer) to service_role;

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
create function public.finish_task(
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
    from jsonb_array_elements(v_job.generation_spec -> 'pages') with ordinality as p(page, ordinal)
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

-- ============================================================================================
-- fail_task: a worker reports a failure; transient ones are retried with the policy's backoff
-- ============================================================================================
-- Whether a failure is transient is a property of its error code (app_generation_error_codes). running
-- (same attempt) -> pending with not_before = now() + the policy's backoff for this attempt (20 s, 60 s,
-- 180 s after the 1st, 2nd, 3rd transient failure: Cloud Tasks can only double its backoff, so the exact
-- schedule is ours), else -> failed, and the job fails with the task's error. Returns what to dispatch
-- (the delayed retry, or the owner's next queued job). A stale report returns nothing. Raises AGIV0 for an
-- error code the table does not know.
create function public.fail_task(p_task_id uuid, p_attempt integer, p_code text, p_message text)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_backoff constant integer[] := (public.app_generation_policy()).retry_backoff_seconds;
  v_transient boolean;
  v_task public.app_generation_tasks;
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

  if v_transient and p_attempt <= array_length(v_backoff, 1) then
    update public.app_generation_tasks
    set status = 'pending', lease_expires_at = null, dispatched_at = now(),
        not_before = now() + make_interval(secs => v_backoff[p_attempt]),
        error_code = p_code, error_message = left(p_message, 2000)
    where id = p_task_id and status = 'running' and attempt = p_attempt
    returning * into v_task;
    if found then
      return query select v_task.kind, v_task.job_id, v_task.id, v_backoff[p_attempt];
    end if;
    return;
  end if;

  update public.app_generation_tasks
  set status = 'failed', finished_at = now(), lease_expires_at = null,
      error_code = p_code, error_message = left(p_message, 2000)
  where id = p_task_id and status = 'running' and attempt = p_attempt;
  if not found then
    return;
  end if;
  return query select * from public.app_generation_fail_job(
    v_task.job_id, p_code,
    case when v_transient
         then format('%s (gave up after %s attempts)', p_message, p_attempt)
         else p_message end);
end;
$$;

revoke execute on function public.fail_task(uuid, integer, text, text) from public, anon, authenticated;
grant execute on function public.fail_task(uuid, integer, text, text) to service_role;

-- ============================================================================================
-- redispatch_owed_tasks: steps the queue owes the database, sent again by the sweeper
-- ============================================================================================
-- Cloud Tasks (and the local dispatcher) deliver at least once, but a worker can die mid-step (Cloud Run
-- recycles instances, a laptop's `appgen dev` gets killed) and an enqueue can fail after the database
-- decided a step. The database knows every step it is owed. Of active jobs (running | fixing):
--   running tasks whose lease ran out (their worker died: claim_task lets the next attempt take over);
--   pending tasks that were dispatched, are due (not_before passed) and were not claimed within
--   p_grace_seconds (default: one lease) of being due (the enqueue or the queue's copy was lost).
-- Each returned task gets redelivery + 1 and dispatched_at = now(), so the next sweep waits a grace
-- period again instead of flooding the queue. Then, for owners with a free running slot, the oldest
-- queued job older than the grace period is returned as a 'start' (its start message was lost).
-- `for update skip locked`: concurrent sweeps split the work instead of sending a task twice.
create type public.app_generation_redispatch as (
  kind text,
  job_id uuid,
  task_id uuid,
  delay_seconds integer,
  redelivery integer
);

create function public.redispatch_owed_tasks(p_limit integer default null, p_grace_seconds integer default null)
returns setof public.app_generation_redispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy constant public.app_generation_policy := public.app_generation_policy();
  v_limit constant integer := greatest(coalesce(p_limit, v_policy.sweep_batch), 0);
  v_grace constant interval := make_interval(secs => coalesce(p_grace_seconds, v_policy.task_lease_seconds));
begin
  return query
  with owed as (
    select t.id from public.app_generation_tasks t
    join public.app_generation_jobs j on j.id = t.job_id and j.status in ('running', 'fixing')
    where (t.status = 'running' and t.lease_expires_at < now())
       or (t.status = 'pending' and t.dispatched_at is not null
           and greatest(t.dispatched_at, coalesce(t.not_before, t.dispatched_at)) < now() - v_grace)
    order by t.created_at
    limit v_limit
    for update of t skip locked
  ), resent as (
    update public.app_generation_tasks t
    set redelivery = t.redelivery + 1, dispatched_at = now()
    from owed where t.id = owed.id
    returning t.kind, t.job_id, t.id, t.redelivery
  )
  select r.kind, r.job_id, r.id, 0, r.redelivery from resent r;

  return query
  select d.kind, d.job_id, d.task_id, d.delay_seconds, 0
  from (select distinct j.owner_id from public.app_generation_jobs j
        where j.status = 'queued' and j.created_at < now() - v_grace) o
  cross join lateral public.app_generation_next_queued(o.owner_id) d
  limit v_limit;
end;
$$;

revoke execute on function public.redispatch_owed_tasks(integer, integer) from public, anon, authenticated;
grant execute on function public.redispatch_owed_tasks(integer, integer) to service_role;

-- ============================================================================================
-- list_job_tasks: every step of a job with its result, for the build report
-- ============================================================================================
-- Read-only. Steps in pipeline order: by stage, pages in spec order, and the validate/fix rounds by round
-- number (fix n before validate n). Unknown jobs give no rows. Workers only: the results hold build
-- output that owners read through the redacted logs and the report inside their ZIP instead.
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
  join public.app_generation_stages s on s.task_kind = t.kind
  where t.job_id = p_job_id
  order by
    -- validate and fix rounds interleave, so both sort at the validate stage's position
    case when t.kind in ('validate', 'fix')
         then (select v.position from public.app_generation_stages v where v.name = 'validate')
         else s.position end,
    t.ordinal,
    case when t.kind in ('validate', 'fix') then t.key::integer end,
    t.kind  -- round n: 'fix' n, then 'validate' n
$$;

revoke execute on function public.list_job_tasks(uuid) from public, anon, authenticated;
grant execute on function public.list_job_tasks(uuid) to service_role;
