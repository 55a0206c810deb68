-- appgen: job logs — append-only, redacted lines of each job, read by their owner a page at a time.
--
-- Workers append through append_job_log (which redacts again: nothing unredacted may be stored); owners
-- read with cursor pagination through list_job_logs, a security-invoker function, so RLS decides what a
-- caller sees and another user's job is simply absent.
--
-- Error codes: AGIT0 (a rewrite of a stored line).

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

revoke execute on function public.app_generation_redact(text) from public, anon, authenticated;

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
-- Append-only for the service role too: deleting lines would rewrite history. Rows still go when their
-- job row is deleted (the foreign key's cascade runs as the table owner).
revoke delete, truncate on public.app_generation_logs from service_role;

-- Append-only: not even the service role rewrites a line.
create function public.app_generation_logs_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'app_generation_logs is append-only' using errcode = 'AGIT0';
end;
$$;

revoke execute on function public.app_generation_logs_append_only() from public, anon, authenticated;

create trigger app_generation_logs_append_only
  before update on public.app_generation_logs
  for each row execute function public.app_generation_logs_append_only();

-- ============================================================================================
-- append_job_log: a worker adds a line
-- ============================================================================================
-- Appends one redacted, trimmed line to a job's log; returns its id, or null for an unknown job.
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

revoke execute on function public.append_job_log(uuid, uuid, text, text, text) from public, anon, authenticated;
grant execute on function public.append_job_log(uuid, uuid, text, text, text) to service_role;

-- ============================================================================================
-- list_job_logs: an owner reads a page
-- ============================================================================================
-- The lines of a job after the cursor `p_after` (a log id), oldest first, at most the policy's page size.
create function public.list_job_logs(p_job_id uuid, p_after bigint default 0, p_limit integer default 100)
returns table (id bigint, at timestamptz, level text, stage text, message text)
language sql stable
set search_path = ''
as $$
  select l.id, l.at, l.level, l.stage, l.message
  from public.app_generation_logs l
  where l.job_id = p_job_id and l.id > coalesce(p_after, 0)
  order by l.id
  limit least(greatest(p_limit, 1), (public.app_generation_policy()).logs_page_max)
$$;

revoke execute on function public.list_job_logs(uuid, bigint, integer) from public, anon;
grant execute on function public.list_job_logs(uuid, bigint, integer) to authenticated, service_role;
