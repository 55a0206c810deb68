-- appgen: artifacts — recording a job's ZIP, retention, and downloads.
--
-- An artifact is the ZIP of one job, stored privately at generated-apps/{owner}/{project}/{job}/app.zip.
-- Each project keeps the policy's latest artifacts_kept_per_project; recording a newer one marks the rest
-- for deletion and their jobs expired. Objects are deleted through the storage API by the cleanup
-- sweeper, which then confirms here: rows are never deleted to delete objects.
--
-- Error codes: AGNF0 not found (or not yours), AGIT0 job not running, AGNR0 no artifact yet,
-- AGEX0 artifact expired.

-- ============================================================================================
-- Bucket (private). On Supabase this is the real storage bucket; locally it documents the name.
-- ============================================================================================
-- Also declared in supabase/config.toml, from which the Supabase CLI creates it (`supabase start`,
-- `db reset`, `seed buckets`). `supabase db reset` applies migrations before the storage service has
-- added its columns to storage.buckets (supabase/cli#4085), so the row is inserted here only where the
-- table already has them: hosted projects and appgen's local stack.
do $$
begin
  if (select count(*) from information_schema.columns
      where table_schema = 'storage' and table_name = 'buckets'
        and column_name in ('id', 'name', 'public', 'file_size_limit', 'allowed_mime_types')) = 5 then
    insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
    values ('generated-apps', 'generated-apps', false, (public.app_generation_policy()).max_artifact_bytes,
            array['application/zip'])
    on conflict (id) do nothing;
  end if;
end
$$;

-- ============================================================================================
-- Artifacts
-- ============================================================================================
create table public.app_generation_artifacts (
  id uuid primary key default gen_random_uuid(),
  job_id uuid not null unique references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  project_id uuid not null,
  bucket text not null,
  path text not null,
  size_bytes bigint not null
    check (size_bytes > 0 and size_bytes <= (public.app_generation_policy()).max_artifact_bytes),
  checksum text not null check (checksum ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  delete_requested_at timestamptz,  -- retention chose it; the object is still in storage
  deleted_at timestamptz,           -- the sweeper removed the object
  check (deleted_at is null or delete_requested_at is not null)
);

comment on table public.app_generation_artifacts is
  'One stored ZIP per job (unique job_id). Metadata only; the object lives in the storage bucket.';

create index app_generation_artifacts_owner_idx on public.app_generation_artifacts (owner_id);
create index app_generation_artifacts_project_idx on public.app_generation_artifacts (project_id, created_at desc);
create index app_generation_artifacts_pending_delete_idx on public.app_generation_artifacts (delete_requested_at)
  where delete_requested_at is not null and deleted_at is null;

alter table public.app_generation_artifacts enable row level security;

create policy "Owners can read their own artifacts" on public.app_generation_artifacts
  for select to authenticated using ((select auth.uid()) = owner_id);

revoke insert, update, delete, truncate on public.app_generation_artifacts from anon, authenticated;

-- ============================================================================================
-- record_artifact: the package step stored the ZIP
-- ============================================================================================
-- Records the object of a running job (idempotent for the same path and checksum; a different checksum
-- replaces the record, since a retried package step uploads again), then applies retention. The job
-- itself completes when its package task finishes. Raises AGIT0 when the job is not running.
create function public.record_artifact(
  p_job_id uuid, p_bucket text, p_path text, p_size_bytes bigint, p_checksum text
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job public.app_generation_jobs;
begin
  select * into v_job from public.app_generation_jobs where id = p_job_id and status in ('running', 'fixing');
  if not found then
    raise exception 'job % is not running', p_job_id using errcode = 'AGIT0';
  end if;
  insert into public.app_generation_artifacts (job_id, owner_id, project_id, bucket, path, size_bytes, checksum)
  values (p_job_id, v_job.owner_id, v_job.project_id, p_bucket, p_path, p_size_bytes, p_checksum)
  on conflict (job_id) do update
    set bucket = excluded.bucket, path = excluded.path, size_bytes = excluded.size_bytes,
        checksum = excluded.checksum, created_at = now();
  perform public.expire_old_artifacts(v_job.project_id);
end;
$$;

revoke execute on function public.record_artifact(uuid, text, text, bigint, text) from public, anon, authenticated;
grant execute on function public.record_artifact(uuid, text, text, bigint, text) to service_role;

-- ============================================================================================
-- Retention
-- ============================================================================================

-- Keeps the policy's latest artifacts of a project: older ones are marked for deletion and their (ended)
-- jobs move to expired. Returns how many were marked.
create function public.expire_old_artifacts(p_project_id uuid) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_marked integer;
begin
  with stale as (
    update public.app_generation_artifacts a set delete_requested_at = now()
    where a.id in (
      select id from public.app_generation_artifacts
      where project_id = p_project_id and delete_requested_at is null
      order by created_at desc, id desc
      offset (public.app_generation_policy()).artifacts_kept_per_project
    )
    returning a.job_id
  )
  select count(*) into v_marked from stale;
  if v_marked > 0 then
    perform public.app_generation_set_reason('retention: newer artifacts exist');
    update public.app_generation_jobs j set status = 'expired'
    from public.app_generation_artifacts a
    where a.job_id = j.id and a.project_id = p_project_id and a.delete_requested_at is not null
      and j.status in ('completed', 'completed_with_warnings');
  end if;
  return v_marked;
end;
$$;

revoke execute on function public.expire_old_artifacts(uuid) from public, anon, authenticated;
grant execute on function public.expire_old_artifacts(uuid) to service_role;

-- Objects awaiting deletion, oldest first, at most p_limit (default: the policy's sweep batch).
create function public.list_artifacts_to_delete(p_limit integer default null)
returns table (artifact_id uuid, bucket text, path text)
language sql stable
security definer
set search_path = ''
as $$
  select id, bucket, path from public.app_generation_artifacts
  where delete_requested_at is not null and deleted_at is null
  order by delete_requested_at
  limit greatest(coalesce(p_limit, (public.app_generation_policy()).sweep_batch), 0)
$$;

-- The sweeper removed the object.
create function public.confirm_artifact_deleted(p_artifact_id uuid) returns void
language sql
security definer
set search_path = ''
as $$
  update public.app_generation_artifacts set deleted_at = now()
  where id = p_artifact_id and delete_requested_at is not null and deleted_at is null
$$;

revoke execute on function public.list_artifacts_to_delete(integer) from public, anon, authenticated;
revoke execute on function public.confirm_artifact_deleted(uuid) from public, anon, authenticated;
grant execute on function public.list_artifacts_to_delete(integer) to service_role;
grant execute on function public.confirm_artifact_deleted(uuid) to service_role;

-- ============================================================================================
-- request_download: an owner asks for the ZIP
-- ============================================================================================
-- Returns where the object is, for the API to sign a short-lived URL. Raises AGNF0 for unknown or
-- foreign jobs, AGEX0 when retention removed the artifact, AGNR0 when there is none yet.
create function public.request_download(p_job_id uuid)
returns table (bucket text, path text, size_bytes bigint, checksum text)
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  v_status public.app_generation_status;
  v_artifact public.app_generation_artifacts;
begin
  select status into v_status from public.app_generation_jobs
  where id = p_job_id and owner_id = auth.uid();
  if not found then
    raise exception 'job not found' using errcode = 'AGNF0';
  end if;
  select * into v_artifact from public.app_generation_artifacts where job_id = p_job_id;
  if v_status = 'expired' or v_artifact.delete_requested_at is not null then
    raise exception 'the artifact of this job expired' using errcode = 'AGEX0';
  end if;
  if v_status not in ('completed', 'completed_with_warnings') or v_artifact.id is null then
    raise exception 'the job has no artifact yet (status %)', v_status using errcode = 'AGNR0';
  end if;
  return query select v_artifact.bucket, v_artifact.path, v_artifact.size_bytes, v_artifact.checksum;
end;
$$;

revoke execute on function public.request_download(uuid) from public, anon;
grant execute on function public.request_download(uuid) to authenticated;
