-- appgen: pipeline tasks.
--
-- A job runs as a chain of tasks (DESIGN.md §7): scaffold -> page x N (windowed) -> integrate ->
-- validate -> [fix -> validate] x <= 4 -> package. Every step is one row here. Delivery is at least once,
-- so claiming is idempotent (attempt number + lease), finishing a task that is not running under that
-- attempt is a no-op, and the RPCs that finish a task decide the next steps *in the database* and return
-- them as dispatch instructions; Python only enqueues what they return.
--
-- Error codes: AGNF0 not found (or not yours), AGIT0 illegal transition, AGIV0 invalid input.

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
  kind text not null check (kind in ('scaffold', 'page', 'integrate', 'validate', 'fix', 'package')),
  key text not null default '',            -- pageId for page tasks, the round for validate/fix
  ordinal integer not null default 0,      -- page order in the spec (the window hands pages out in order)
  status public.app_generation_task_status not null default 'pending',
  attempt integer not null default 0,      -- incremented by each claim
  lease_expires_at timestamptz,
  not_before timestamptz,                  -- a transient retry may not run before this
  dispatched_at timestamptz,               -- when an RPC last told Python to enqueue it
  result jsonb,
  error_code text,
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

-- The 'start' dispatch for the owner's oldest queued job, when one of the owner's 2 running slots is free.
create function public.app_generation_next_queued(p_owner uuid)
returns setof public.app_generation_dispatch
language sql stable
security definer
set search_path = ''
as $$
  select 'start'::text, j.id, null::uuid, 0
  from public.app_generation_jobs j
  where j.owner_id = p_owner and j.status = 'queued'
    and (select count(*) from public.app_generation_jobs r
         where r.owner_id = p_owner and r.status in ('running', 'fixing')) < 2
  order by j.created_at
  limit 1
$$;

-- Ends a job that can go no further: the job fails with a reason its owner can read, open tasks are
-- cancelled, and the owner's next queued job (if any) is returned for starting.
create function public.app_generation_fail_job(p_job_id uuid, p_code text, p_message text)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid;
begin
  perform public.app_generation_set_reason(p_code);
  update public.app_generation_jobs
  set status = 'failed', error_code = p_code, error_message = left(p_message, 2000)
  where id = p_job_id and status in ('queued', 'running', 'fixing')
  returning owner_id into v_owner;
  if not found then
    return;
  end if;
  update public.app_generation_tasks
  set status = 'cancelled', finished_at = now()
  where job_id = p_job_id and status in ('pending', 'running');
  return query select * from public.app_generation_next_queued(v_owner);
end;
$$;

revoke execute on function public.app_generation_add_task(uuid, text, text, integer) from public, anon, authenticated;
revoke execute on function public.app_generation_next_queued(uuid) from public, anon, authenticated;
revoke execute on function public.app_generation_fail_job(uuid, text, text) from public, anon, authenticated;

-- ============================================================================================
-- start_job: the orchestrator hands a queued job a running slot
-- ============================================================================================
-- queued -> running when fewer than 2 of the owner's jobs are running or fixing; otherwise the job stays
-- queued and is started when a slot frees (the RPCs that end a job return a 'start' for it). Jobs of one
-- owner start in submission order. Returns the first step to dispatch, or nothing (already started,
-- cancelled, or waiting for a slot).
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
  -- both count one running job and both start (the cap would become 3).
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
-- that held it died). attempt += 1. Returns the task with its job's spec, fix-loop budget and inputs (for
-- fix round n: the failing validation of round n-1 and the result of fix round n-1); returns nothing when
-- the delivery is stale (task finished, held by a live worker, not due yet, job stopped).
create function public.claim_task(p_task_id uuid, p_lease_seconds integer default 1800)
returns table (
  task_id uuid, job_id uuid, owner_id uuid, project_id uuid, kind text, key text, attempt integer,
  fix_round integer, max_fix_rounds integer, deadline_at timestamptz, generation_spec jsonb, inputs jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
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
        lease_expires_at = now() + make_interval(secs => p_lease_seconds)
    where t.id = p_task_id
      and ((t.status = 'pending' and (t.not_before is null or t.not_before <= now()))
           or (t.status = 'running' and t.lease_expires_at < now()))
    returning t.*
  ), staged as (
    update public.app_generation_jobs j
    set stage = case c.kind when 'page' then 'pages' else c.kind end
    from claimed c where j.id = c.job_id
    returning j.*
  )
  select c.id, c.job_id, c.owner_id, s.project_id, c.kind, c.key, c.attempt,
         s.fix_round, s.max_fix_rounds, s.deadline_at, s.generation_spec,
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
-- finish_task: a worker reports success; the database decides what runs next
-- ============================================================================================
-- running (same attempt) -> succeeded. Then, by kind:
--   scaffold  -> page tasks for every page; the first page_parallelism of them dispatched
--   page      -> the next undispatched page (the window slides), or integrate when it was the last page
--   integrate -> validate round 0
--   validate  -> package when result.outcome is 'passed' or 'install_failed'; otherwise fix round n+1
--                while rounds, time and new error signatures remain; otherwise the job fails (build_failed)
--   fix       -> validate of the same round
--   package   -> the job completes (completed_with_warnings when it has warnings); needs its artifact
-- Returns the steps to dispatch. A stale or duplicate report returns nothing and changes nothing.
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
             and result ->> 'signature' = v_signature) >= 3 then
      -- The same error survived two fix rounds: more rounds would only churn.
      return query select * from public.app_generation_fail_job(v_job.id, 'build_failed',
        format('The same build error repeated after two fix rounds: %s', p_result ->> 'summary'));
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

revoke execute on function public.app_generation_release_pages(uuid, integer) from public, anon, authenticated;

-- ============================================================================================
-- fail_task: a worker reports a failure; transient ones are retried with the plan's backoff
-- ============================================================================================
-- running (same attempt) -> pending with not_before = now() + 20 s / 60 s / 180 s after the 1st/2nd/3rd
-- transient failure (Cloud Tasks can only double its backoff, so the exact schedule is ours), else
-- -> failed, and the job fails with the task's error. Returns what to dispatch (the delayed retry, or the
-- owner's next queued job). A stale report returns nothing.
create function public.fail_task(
  p_task_id uuid, p_attempt integer, p_code text, p_message text, p_transient boolean default false
) returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_backoff constant integer[] := array[20, 60, 180];
  v_task public.app_generation_tasks;
begin
  select * into v_task from public.app_generation_tasks where id = p_task_id;
  if not found then
    return;
  end if;
  perform 1 from public.app_generation_jobs where id = v_task.job_id for update;

  if p_transient and p_attempt <= array_length(v_backoff, 1) then
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
    case when p_transient
         then format('%s (gave up after %s attempts)', p_message, p_attempt)
         else p_message end);
end;
$$;

revoke execute on function public.fail_task(uuid, integer, text, text, boolean) from public, anon, authenticated;
grant execute on function public.fail_task(uuid, integer, text, text, boolean) to service_role;

-- ============================================================================================
-- Worker-side job helpers
-- ============================================================================================

-- True while the job may still make progress; workers poll it between steps and while agents run.
create function public.job_is_active(p_job_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (select 1 from public.app_generation_jobs
                 where id = p_job_id and status in ('running', 'fixing'))
$$;

revoke execute on function public.job_is_active(uuid) from public, anon, authenticated;
grant execute on function public.job_is_active(uuid) to service_role;

-- Adds a warning to a job once per code (a retried step does not duplicate it).
create function public.add_job_warning(p_job_id uuid, p_code text, p_message text) returns void
language sql
security definer
set search_path = ''
as $$
  update public.app_generation_jobs
  set warnings = warnings || jsonb_build_array(jsonb_build_object('code', p_code, 'message', p_message))
  where id = p_job_id
    and not exists (select 1 from jsonb_array_elements(warnings) w where w ->> 'code' = p_code)
$$;

revoke execute on function public.add_job_warning(uuid, text, text) from public, anon, authenticated;
grant execute on function public.add_job_warning(uuid, text, text) to service_role;

-- ============================================================================================
-- cancel_job: an owner stops a job
-- ============================================================================================
-- queued | running | fixing -> cancelled; open tasks are cancelled (queued deliveries become no-ops and
-- running workers notice through job_is_active). Raises AGNF0 for unknown or foreign jobs and AGIT0 when
-- the job already ended. Returns the owner's next queued job to start.
create function public.cancel_job(p_job_id uuid)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid := auth.uid();
  v_status public.app_generation_status;
begin
  select status into v_status from public.app_generation_jobs
  where id = p_job_id and owner_id = v_user for update;
  if not found then
    raise exception 'job not found' using errcode = 'AGNF0';
  end if;
  if v_status not in ('queued', 'running', 'fixing') then
    raise exception 'job already ended (%)', v_status using errcode = 'AGIT0';
  end if;
  perform public.app_generation_set_reason('cancelled by owner');
  update public.app_generation_jobs set status = 'cancelled' where id = p_job_id;
  update public.app_generation_tasks
  set status = 'cancelled', finished_at = now()
  where job_id = p_job_id and status in ('pending', 'running');
  return query select * from public.app_generation_next_queued(v_user);
end;
$$;

revoke execute on function public.cancel_job(uuid) from public, anon;
grant execute on function public.cancel_job(uuid) to authenticated;
