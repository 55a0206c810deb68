-- appgen: generation jobs — the state machine, submitting, the daily quota and its refunds, ending and
-- cancelling a job.
--
-- A job is one request to turn a generation_spec into an app. Its status follows one state machine,
-- enforced here by a trigger that also records every change as an event. Users create and cancel jobs
-- only through the RPCs below; workers (service_role) move them forward through the task RPCs.
--
-- Stable error codes (SQLSTATE) that appgen maps to HTTP answers:
--   AGNF0 not found (or not yours)   AGIT0 illegal transition   AGQT0 daily quota exceeded
--   AGIK0 idempotency key reused with another spec               AGIV0 invalid input

-- ============================================================================================
-- Status
-- ============================================================================================
create type public.app_generation_status as enum (
  'queued',                   -- -> running (a running slot of its owner is free), cancelled, failed
  'running',                  -- -> fixing, completed, completed_with_warnings, failed, cancelled
  'fixing',                   -- -> completed, completed_with_warnings, failed, cancelled
  'completed',                -- -> expired (retention)
  'completed_with_warnings',  -- -> expired (retention)
  'failed',                   -- terminal
  'expired',                  -- terminal: artifact deleted by retention
  'cancelled'                 -- terminal: stopped by its owner
);

comment on type public.app_generation_status is 'Job states; see the comment of each value for allowed moves.';

-- The transition table, written once. Used by the trigger that guards every UPDATE of status.
create function public.app_generation_transition_allowed(
  from_status public.app_generation_status, to_status public.app_generation_status
) returns boolean
language sql immutable
set search_path = ''
as $$
  select (from_status, to_status) in (
    ('queued', 'running'), ('queued', 'cancelled'), ('queued', 'failed'),
    ('running', 'fixing'), ('running', 'completed'), ('running', 'completed_with_warnings'),
    ('running', 'failed'), ('running', 'cancelled'),
    ('fixing', 'completed'), ('fixing', 'completed_with_warnings'), ('fixing', 'failed'),
    ('fixing', 'cancelled'),
    ('completed', 'expired'), ('completed_with_warnings', 'expired')
  )
$$;

revoke execute on function public.app_generation_transition_allowed(public.app_generation_status, public.app_generation_status)
  from public, anon, authenticated;

-- ============================================================================================
-- Projects: who owns a project id (the first user to generate for it)
-- ============================================================================================
create table public.app_generation_projects (
  project_id uuid primary key,
  owner_id uuid not null,
  created_at timestamptz not null default now()
);

comment on table public.app_generation_projects is
  'Owner of each project id. Default rule: the first user to generate for a project owns it.';

alter table public.app_generation_projects enable row level security;

create policy "Owners can read their own projects" on public.app_generation_projects
  for select to authenticated using ((select auth.uid()) = owner_id);

create index app_generation_projects_owner_idx on public.app_generation_projects (owner_id);

revoke all on public.app_generation_projects from anon;
revoke insert, update, delete, truncate on public.app_generation_projects from authenticated;

-- Project ownership is one replaceable function: a deployment whose frontend already has a projects
-- table replaces this body with a lookup there. Returns true when `user_id` may generate for the project.
create function public.app_generation_claim_project(p_project_id uuid, p_user_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.app_generation_projects (project_id, owner_id)
  values (p_project_id, p_user_id)
  on conflict (project_id) do nothing;
  return exists (
    select 1 from public.app_generation_projects
    where project_id = p_project_id and owner_id = p_user_id
  );
end;
$$;

revoke execute on function public.app_generation_claim_project(uuid, uuid) from public, anon, authenticated;

-- ============================================================================================
-- Jobs
-- ============================================================================================
create table public.app_generation_jobs (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  project_id uuid not null references public.app_generation_projects (project_id),
  status public.app_generation_status not null default 'queued',
  stage text not null default 'queued' references public.app_generation_stages (name),
  generation_spec jsonb not null,
  spec_hash text not null,
  idempotency_key text,
  page_count integer not null check (page_count between 1 and (public.app_generation_policy()).max_pages),
  page_parallelism integer not null
    check (page_parallelism between 1 and (public.app_generation_policy()).page_parallelism_max),
  attempt_count integer not null default 0,
  fix_round integer not null default 0,
  -- The fix budget and time limit are the policy's when the job was submitted: a later change of the
  -- policy does not move the goalposts of a job in flight.
  max_fix_rounds integer not null default (public.app_generation_policy()).max_fix_rounds
    check (fix_round between 0 and max_fix_rounds),
  time_limit interval not null default (public.app_generation_policy()).job_time_limit,
  warnings jsonb not null default '[]'::jsonb check (jsonb_typeof(warnings) = 'array'),
  error_code text references public.app_generation_error_codes (code),
  error_message text,
  tokens_input bigint not null default 0,
  tokens_output bigint not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  deadline_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  scratch_cleared_at timestamptz,  -- the cleanup sweep deleted the job's snapshots (see the sweeps)
  check (idempotency_key is null or length(idempotency_key) between 1 and 200),
  check (status <> 'failed' or error_code is not null)
);

comment on table public.app_generation_jobs is
  'One row per generation request. Written only by security-definer RPCs; owners read their own rows.';

-- One job per idempotency key and user: a retried submit returns the same job.
create unique index app_generation_jobs_idempotency_idx
  on public.app_generation_jobs (owner_id, idempotency_key) where idempotency_key is not null;
-- RLS filter, the running-slot count and the daily quota all look up jobs by owner.
create index app_generation_jobs_owner_idx on public.app_generation_jobs (owner_id, created_at desc);
create index app_generation_jobs_project_idx on public.app_generation_jobs (project_id, created_at desc);
create index app_generation_jobs_active_idx on public.app_generation_jobs (status)
  where status in ('queued', 'running', 'fixing');
-- The scratch sweep looks for ended jobs whose snapshots are still stored.
create index app_generation_jobs_scratch_idx on public.app_generation_jobs (finished_at)
  where scratch_cleared_at is null and started_at is not null;

alter table public.app_generation_jobs enable row level security;

create policy "Owners can read their own jobs" on public.app_generation_jobs
  for select to authenticated using ((select auth.uid()) = owner_id);

revoke insert, update, delete, truncate on public.app_generation_jobs from anon, authenticated;

-- Frontends may subscribe to their own job rows (RLS applies) instead of polling.
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    alter publication supabase_realtime add table public.app_generation_jobs;
  end if;
end
$$;

-- ============================================================================================
-- Events: every status change, who made it and why
-- ============================================================================================
create table public.app_generation_job_events (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  from_status public.app_generation_status,
  to_status public.app_generation_status not null,
  reason text,
  actor text not null,
  at timestamptz not null default now()
);

comment on table public.app_generation_job_events is 'Audit trail of job status changes (trigger-written).';

create index app_generation_job_events_job_idx on public.app_generation_job_events (job_id, id);
create index app_generation_job_events_owner_idx on public.app_generation_job_events (owner_id);

alter table public.app_generation_job_events enable row level security;

create policy "Owners can read the events of their own jobs" on public.app_generation_job_events
  for select to authenticated using ((select auth.uid()) = owner_id);

revoke insert, update, delete, truncate on public.app_generation_job_events from anon, authenticated;

-- Guards every status change against the transition table, stamps the timestamps the database owns,
-- and records the event. The reason comes from the transaction-local setting `appgen.reason`.
create function public.app_generation_on_job_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    new.updated_at := now();
    if new.status is not distinct from old.status then
      return new;
    end if;
    if not public.app_generation_transition_allowed(old.status, new.status) then
      raise exception 'job % cannot move from % to %', old.id, old.status, new.status
        using errcode = 'AGIT0';
    end if;
    if new.status = 'running' and old.status = 'queued' then
      new.started_at := now();
      new.deadline_at := now() + new.time_limit;
    end if;
    if new.status in ('completed', 'completed_with_warnings', 'failed', 'cancelled') then
      new.finished_at := now();
    end if;
  end if;
  insert into public.app_generation_job_events (job_id, owner_id, from_status, to_status, reason, actor)
  values (
    new.id, new.owner_id,
    case when tg_op = 'UPDATE' then old.status end,
    new.status,
    nullif(current_setting('appgen.reason', true), ''),
    coalesce(auth.uid()::text, nullif(current_setting('appgen.actor', true), ''), current_user::text)
  );
  return new;
end;
$$;

revoke execute on function public.app_generation_on_job_status() from public, anon, authenticated;

-- BEFORE UPDATE so the trigger can stamp started_at/finished_at on the row being written; AFTER INSERT
-- because the event references the job row, which must exist first.
create trigger app_generation_job_status_update
  before update of status on public.app_generation_jobs
  for each row execute function public.app_generation_on_job_status();

create trigger app_generation_job_status_insert
  after insert on public.app_generation_jobs
  for each row execute function public.app_generation_on_job_status();

-- Sets the reason recorded with the next status change in this transaction.
create function public.app_generation_set_reason(p_reason text) returns void
language sql
set search_path = ''
as $$ select set_config('appgen.reason', coalesce(p_reason, ''), true); $$;

revoke execute on function public.app_generation_set_reason(text) from public, anon, authenticated;

-- ============================================================================================
-- Dispatch instructions returned by RPCs: "enqueue this step". Python only carries them out.
-- ============================================================================================
create type public.app_generation_dispatch as (
  kind text,          -- 'start' (orchestrator: try to start the job) or a task kind
  job_id uuid,
  task_id uuid,       -- null for 'start'
  delay_seconds integer
);

-- The 'start' dispatch for the owner's oldest queued job, when one of the owner's running slots is free.
-- Jobs submitted in the same instant start in a fixed order (by id).
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
         where r.owner_id = p_owner and r.status in ('running', 'fixing'))
        < (public.app_generation_policy()).running_jobs_per_user
  order by j.created_at, j.id
  limit 1
$$;

revoke execute on function public.app_generation_next_queued(uuid) from public, anon, authenticated;

-- ============================================================================================
-- submit_job: a user asks for an app
-- ============================================================================================
-- Owner = auth.uid(). Validates project ownership, applies the idempotency key and the daily quota,
-- stores the spec with its hash. Returns the job id and whether it is new (false: idempotent replay).
-- Raises AGNF0 (project owned by someone else), AGIK0 (key reused with another spec), AGQT0 (daily cap;
-- the HINT carries the seconds until the next slot opens), AGIV0 (bad spec shape).
create function public.submit_job(p_spec jsonb, p_idempotency_key text default null)
returns table (job_id uuid, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy constant public.app_generation_policy := public.app_generation_policy();
  v_user uuid := auth.uid();
  v_project uuid;
  v_hash text := encode(sha256(convert_to(p_spec::text, 'UTF8')), 'hex');
  v_pages integer;
  v_existing record;
  v_id uuid;
begin
  if v_user is null then
    raise exception 'not signed in' using errcode = 'AGNF0';
  end if;
  begin
    v_project := (p_spec ->> 'projectId')::uuid;
  exception when invalid_text_representation then
    raise exception 'projectId is not a uuid' using errcode = 'AGIV0';
  end;
  v_pages := jsonb_array_length(coalesce(p_spec -> 'pages', '[]'::jsonb));
  if v_project is null or v_pages < 1 then
    raise exception 'spec needs a projectId and at least one page' using errcode = 'AGIV0';
  end if;
  if v_pages > v_policy.max_pages then
    raise exception 'spec has % pages; at most % are allowed', v_pages, v_policy.max_pages
      using errcode = 'AGIV0';
  end if;

  -- Serialize submits of one user: the idempotency lookup and the quota count below must not race
  -- with a concurrent submit of the same user (two requests could both see 4 jobs and both insert).
  perform pg_advisory_xact_lock(hashtextextended('appgen.user:' || v_user::text, 0));

  if p_idempotency_key is not null then
    select j.id, j.spec_hash into v_existing
    from public.app_generation_jobs j
    where j.owner_id = v_user and j.idempotency_key = p_idempotency_key;
    if found then
      if v_existing.spec_hash <> v_hash then
        raise exception 'Idempotency-Key was already used with a different spec' using errcode = 'AGIK0';
      end if;
      return query select v_existing.id, false;
      return;
    end if;
  end if;

  if not public.app_generation_claim_project(v_project, v_user) then
    raise exception 'project not found' using errcode = 'AGNF0';
  end if;

  perform public.app_generation_check_quota(v_user);

  insert into public.app_generation_jobs (
    owner_id, project_id, generation_spec, spec_hash, idempotency_key, page_count, page_parallelism
  )
  values (v_user, v_project, p_spec, v_hash, p_idempotency_key, v_pages,
          least(v_pages, v_policy.page_parallelism, v_policy.page_parallelism_max))
  returning id into v_id;

  return query select v_id, true;
end;
$$;

revoke execute on function public.submit_job(jsonb, text) from public, anon;
grant execute on function public.submit_job(jsonb, text) to authenticated;

-- ============================================================================================
-- Quota: the policy's daily cap per user over a rolling window
-- ============================================================================================
-- A job is refunded (not counted) when its owner got nothing for it and it was not the owner's doing:
-- it was cancelled, or it failed with an error code the error-code table marks as refunded.
create function public.app_generation_refunded(j public.app_generation_jobs) returns boolean
language sql stable
set search_path = ''
as $$
  select j.status = 'cancelled'
      or (j.status = 'failed'
          and exists (select 1 from public.app_generation_error_codes c
                      where c.code = j.error_code and c.refunded))
$$;

-- Raises AGQT0 with HINT = seconds until the oldest counted job leaves the window.
create function public.app_generation_check_quota(p_user uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy constant public.app_generation_policy := public.app_generation_policy();
  v_counted integer;
  v_oldest timestamptz;
begin
  select count(*), min(j.created_at) into v_counted, v_oldest
  from (
    select j.created_at from public.app_generation_jobs j
    where j.owner_id = p_user
      and j.created_at > now() - v_policy.quota_window
      and not public.app_generation_refunded(j)
    order by j.created_at desc
    limit v_policy.daily_job_cap
  ) j;
  if v_counted >= v_policy.daily_job_cap then
    -- clock_timestamp(), not now(): this transaction may have waited on submit_job's per-user lock while
    -- the counted jobs were inserted, so its start time can precede their created_at.
    raise exception 'daily limit of % generation jobs reached', v_policy.daily_job_cap
      using errcode = 'AGQT0',
            hint = greatest(1, ceil(extract(epoch from v_oldest + v_policy.quota_window - clock_timestamp())))::text;
  end if;
end;
$$;

revoke execute on function public.app_generation_refunded(public.app_generation_jobs) from public, anon, authenticated;
revoke execute on function public.app_generation_check_quota(uuid) from public, anon, authenticated;

-- ============================================================================================
-- Ending a job: failure (workers, sweeps) and cancel (its owner)
-- ============================================================================================

-- Ends a job that can go no further: queued | running | fixing -> failed with a reason its owner can
-- read; open tasks are cancelled (a late worker's report is then a no-op), and the owner's next queued
-- job, if the freed slot lets one start, is returned for starting. A job that already ended stays as it is.
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

revoke execute on function public.app_generation_fail_job(uuid, text, text) from public, anon, authenticated;

-- cancel_job: an owner stops a job.
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
