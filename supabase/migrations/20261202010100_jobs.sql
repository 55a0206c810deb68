-- appgen: job versions and change notifications, so that the API can push a job's progress to its owner
-- (`GET /api/agentic/jobs/{jobId}/events`, Server-Sent Events) instead of having every client poll.
--
-- - `version`: a number on each job row that rises with every change of the job object the API shows
--   (status, stage, progress, warnings, error, timestamps, artifact). The event stream sends a job
--   event only when it rose, and names it in each event's id, so an id says which state a client has.
-- - NOTIFY `app_generation_job_changes` with the job's id (nothing else: the payload stays small and
--   says nothing about the job) whenever a job row or its logs change. One listening connection per API
--   process fans the ids out to the open streams (appgen/gateway/changes.py). Notifications are sent at
--   commit, so a listener never hears of a change it cannot read yet, and Postgres folds the identical
--   notifications of one transaction into one.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Versions
-- ============================================================================================
alter table public.app_generation_jobs add column version bigint not null default 1;

comment on column public.app_generation_jobs.version is
  'Rises by one with every update of the row (app_generation_job_version) and every change of its artifact; the id of the job events the API streams.';

-- Every update of a job row, whatever it sets, raises the version by one. Pages done is counted from the
-- tasks, and finish_task updates the job row in the transaction that marks a page succeeded, so a page
-- finishing raises it too.
create function public.app_generation_bump_job_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.version := old.version + 1;
  return new;
end;
$$;

revoke execute on function public.app_generation_bump_job_version() from public, anon, authenticated;

create trigger app_generation_job_version
  before update on public.app_generation_jobs
  for each row execute function public.app_generation_bump_job_version();

-- The artifact is part of the job object (size and checksum, gone once retention marks it), but
-- record_artifact and retention write the artifact row, not the job's: touch the job so that its
-- version rises (and its owner's streams hear of it). Security definer: whoever writes the artifact
-- row, the job row is written as its owner.
create function public.app_generation_touch_job_of_artifact() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.app_generation_jobs set version = version + 1 where id = new.job_id;
  return null;
end;
$$;

revoke execute on function public.app_generation_touch_job_of_artifact() from public, anon, authenticated;

-- Not on `deleted_at`: the sweep confirming a deleted object changes nothing the job object shows.
create trigger app_generation_artifact_touches_job
  after insert or update of size_bytes, checksum, delete_requested_at on public.app_generation_artifacts
  for each row execute function public.app_generation_touch_job_of_artifact();

-- ============================================================================================
-- Change notifications
-- ============================================================================================
-- NOTIFY app_generation_job_changes, payload: the job id. Used by the jobs trigger below and the logs
-- trigger (20261202010400_logs.sql); each table names its job in its own column.
create function public.app_generation_notify_job_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'app_generation_jobs' then
    perform pg_notify('app_generation_job_changes', new.id::text);
  else
    perform pg_notify('app_generation_job_changes', new.job_id::text);
  end if;
  return null;
end;
$$;

revoke execute on function public.app_generation_notify_job_change() from public, anon, authenticated;

-- After every update (the version rose): nobody can follow a job before it exists, so not on insert.
create trigger app_generation_job_changed
  after update on public.app_generation_jobs
  for each row execute function public.app_generation_notify_job_change();
