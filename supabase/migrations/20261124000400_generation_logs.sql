-- appgen: job logs and the read side owners see (job summaries, lists, log pages).
--
-- Logs are append-only, redacted before insert, and read by their owner with cursor pagination. The read
-- RPCs are security invoker: RLS decides what a caller sees, so another user's job is simply absent.

-- ============================================================================================
-- Redaction (defence in depth: workers redact too, but nothing unredacted may be stored)
-- ============================================================================================
create function public.app_generation_redact(p_text text) returns text
language sql immutable
set search_path = ''
as $$
  select regexp_replace(regexp_replace(regexp_replace(regexp_replace(p_text,
    'eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}', '[REDACTED]', 'g'),
    '([Bb][Ee][Aa][Rr][Ee][Rr]\s+)[A-Za-z0-9._~+/=-]{8,}', '\1[REDACTED]', 'g'),
    'AIza[0-9A-Za-z_-]{35}', '[REDACTED]', 'g'),
    '(://[^:/@\s]+):[^@\s]+@', '\1:[REDACTED]@', 'g')
$$;

-- ============================================================================================
-- Logs
-- ============================================================================================
create table public.app_generation_logs (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  task_id uuid references public.app_generation_tasks (id) on delete set null,
  level text not null check (level in ('debug', 'info', 'warning', 'error')),
  stage text not null,
  message text not null check (length(message) <= 20000),
  at timestamptz not null default now()
);

comment on table public.app_generation_logs is
  'Append-only, redacted log lines of each job; the cursor is the id.';

create index app_generation_logs_job_idx on public.app_generation_logs (job_id, id);
create index app_generation_logs_owner_idx on public.app_generation_logs (owner_id);

alter table public.app_generation_logs enable row level security;

create policy "Owners can read the logs of their own jobs" on public.app_generation_logs
  for select to authenticated using ((select auth.uid()) = owner_id);

revoke insert, update, delete, truncate on public.app_generation_logs from anon, authenticated;

-- Append-only: not even the service role rewrites history.
create function public.app_generation_logs_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'app_generation_logs is append-only' using errcode = 'AGIT0';
end;
$$;

create trigger app_generation_logs_append_only
  before update on public.app_generation_logs
  for each row execute function public.app_generation_logs_append_only();

-- Appends one redacted, trimmed line to a job's log.
create function public.append_job_log(
  p_job_id uuid, p_task_id uuid, p_level text, p_stage text, p_message text
) returns bigint
language sql
security definer
set search_path = ''
as $$
  insert into public.app_generation_logs (job_id, owner_id, task_id, level, stage, message)
  select j.id, j.owner_id, p_task_id, p_level, p_stage, left(public.app_generation_redact(p_message), 20000)
  from public.app_generation_jobs j where j.id = p_job_id
  returning id
$$;

revoke execute on function public.app_generation_redact(text) from public, anon, authenticated;
revoke execute on function public.app_generation_logs_append_only() from public, anon, authenticated;
revoke execute on function public.append_job_log(uuid, uuid, text, text, text) from public, anon, authenticated;
grant execute on function public.append_job_log(uuid, uuid, text, text, text) to service_role;

-- ============================================================================================
-- Job summaries: what an owner sees of a job (status, stage, progress, warnings, error, artifact)
-- ============================================================================================
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
    when j.stage = 'queued' then 0
    when j.stage = 'scaffold' then 5
    when j.stage = 'pages' then 10 + (50 * pages.done / greatest(j.page_count, 1))
    when j.stage = 'integrate' then 65
    when j.stage = 'validate' then 75 + least(j.fix_round, j.max_fix_rounds) * 3
    when j.stage = 'fix' then 72 + least(j.fix_round, j.max_fix_rounds) * 3
    when j.stage = 'package' then 92
    else 0
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
left join lateral (
  select count(*) filter (where t.status = 'succeeded') as done
  from public.app_generation_tasks t where t.job_id = j.id and t.kind = 'page'
) pages on true
left join public.app_generation_artifacts a on a.job_id = j.id and a.delete_requested_at is null;

comment on view public.app_generation_job_summaries is
  'One row per job with computed progress; security_invoker, so owners see only their own jobs.';

revoke insert, update, delete, truncate on public.app_generation_job_summaries from anon, authenticated;
revoke all on public.app_generation_job_summaries from anon;

-- One job of the caller (RLS), or no row.
create function public.get_job(p_job_id uuid)
returns setof public.app_generation_job_summaries
language sql stable
set search_path = ''
as $$
  select * from public.app_generation_job_summaries where job_id = p_job_id
$$;

-- The caller's jobs, newest first, optionally of one project.
create function public.list_jobs(p_project_id uuid default null, p_limit integer default 20)
returns setof public.app_generation_job_summaries
language sql stable
set search_path = ''
as $$
  select * from public.app_generation_job_summaries
  where p_project_id is null or project_id = p_project_id
  order by created_at desc, job_id
  limit least(greatest(p_limit, 1), 100)
$$;

-- A page of a job's log after the cursor `p_after` (a log id), oldest first.
create function public.list_job_logs(p_job_id uuid, p_after bigint default 0, p_limit integer default 100)
returns table (id bigint, at timestamptz, level text, stage text, message text)
language sql stable
set search_path = ''
as $$
  select l.id, l.at, l.level, l.stage, l.message
  from public.app_generation_logs l
  where l.job_id = p_job_id and l.id > coalesce(p_after, 0)
  order by l.id
  limit least(greatest(p_limit, 1), 500)
$$;

revoke execute on function public.get_job(uuid) from public, anon;
revoke execute on function public.list_jobs(uuid, integer) from public, anon;
revoke execute on function public.list_job_logs(uuid, bigint, integer) from public, anon;
grant execute on function public.get_job(uuid) to authenticated, service_role;
grant execute on function public.list_jobs(uuid, integer) to authenticated, service_role;
grant execute on function public.list_job_logs(uuid, bigint, integer) to authenticated, service_role;

-- ============================================================================================
-- Realtime: frontends may subscribe to their own job rows (RLS applies) instead of polling.
-- ============================================================================================
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    alter publication supabase_realtime add table public.app_generation_jobs;
  end if;
end
$$;
