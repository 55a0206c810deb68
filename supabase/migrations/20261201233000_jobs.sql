-- appgen: a job's spec moves to its own table, out of the row Supabase Realtime broadcasts.
--
-- Jobs are in the `supabase_realtime` publication (20261201221100_jobs.sql) so that owners can follow
-- their job rows instead of polling. Every status, stage and progress change then shipped the whole
-- generation_spec, up to 2 MB of preview HTML, to every subscribed client, and through the WAL decoder
-- before RLS filtered it. The spec never changes after submit, and only the worker reads it: it now lives
-- in app_generation_job_specs, which is not published.
--
-- Why a table rather than a publication column list (`alter publication … add table jobs (id, …)`, PG 15+):
-- Supabase Realtime's Postgres Changes reads the WAL through wal2json (supabase/walrus,
-- `realtime.list_changes`), which takes the publication's table list as its `add-tables` filter but
-- ignores column lists, so the spec would still be on the wire. A separate table that is never published
-- keeps it off whatever the decoder, and keeps the job row small for every other reader too.
--
-- Error codes: AGNF0, AGIK0, AGQT0, AGIV0 (submit_job, unchanged).

-- ============================================================================================
-- Job specs: the generation_spec of each job, written once by submit_job
-- ============================================================================================
create table public.app_generation_job_specs (
  job_id uuid primary key references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  generation_spec jsonb not null
);

comment on table public.app_generation_job_specs is
  'The spec of each job, apart from the job row so that Realtime does not broadcast it. Written only by submit_job.';

create index app_generation_job_specs_owner_idx on public.app_generation_job_specs (owner_id);

alter table public.app_generation_job_specs enable row level security;

create policy "Owners can read the specs of their own jobs" on public.app_generation_job_specs
  for select to authenticated using ((select auth.uid()) = owner_id);

-- Owners read their own specs; only submit_job (as the table owner) writes them. The service role reads
-- them (claim_task hands the spec to the worker as a definer anyway) but may not rewrite one: a job's
-- spec_hash, which idempotent replays compare, describes the spec as submitted.
revoke all on public.app_generation_job_specs from anon, authenticated, service_role;
grant select on public.app_generation_job_specs to authenticated, service_role;

insert into public.app_generation_job_specs (job_id, owner_id, generation_spec)
select id, owner_id, generation_spec from public.app_generation_jobs;

alter table public.app_generation_jobs drop column generation_spec;

-- ============================================================================================
-- submit_job: a user asks for an app
-- ============================================================================================
-- Owner = auth.uid(). Validates project ownership, applies the idempotency key and the daily quota,
-- stores the spec (in app_generation_job_specs) and its hash (on the job). Returns the job id and whether
-- it is new (false: idempotent replay).
-- Raises AGNF0 (project owned by someone else), AGIK0 (key reused with another spec), AGQT0 (daily cap;
-- the HINT carries the seconds until the next slot opens), AGIV0 (bad spec shape).
create or replace function public.submit_job(p_spec jsonb, p_idempotency_key text default null)
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
    owner_id, project_id, spec_hash, idempotency_key, page_count, page_parallelism
  )
  values (v_user, v_project, v_hash, p_idempotency_key, v_pages,
          least(v_pages, v_policy.page_parallelism, v_policy.page_parallelism_max))
  returning id into v_id;
  insert into public.app_generation_job_specs (job_id, owner_id, generation_spec)
  values (v_id, v_user, p_spec);

  return query select v_id, true;
end;
$$;

revoke execute on function public.submit_job(jsonb, text) from public, anon;
grant execute on function public.submit_job(jsonb, text) to authenticated;
