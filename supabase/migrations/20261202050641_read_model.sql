-- appgen: the status route's reads, cheaper (issue 14). A poll whose `If-None-Match` still matches is
-- answered from the job's version alone (get_job_version), and get_job stops planning its view on every
-- call.
--
-- Error codes: none raised here.

-- ============================================================================================
-- get_job: the same answer, its plan kept for the session
-- ============================================================================================
-- A `language sql` function that cannot be inlined (this one pins its search_path) is planned again on
-- every call; planning the summaries view (lateral subqueries, the fidelity's jsonb) took about 0.7 ms,
-- twice as long as running it, and was most of the status route's time in the database. PL/pgSQL keeps
-- the plan for the session. The plan stays right for every caller: the view's policies compare owner_id
-- with `(select auth.uid())`, which is evaluated on each call, and Postgres plans again when a plan that
-- row level security shaped is used under another role (a plan made for the service role, which bypasses
-- RLS, is never reused for a signed-in user; 80_status_reads.sql checks it). Still security invoker:
-- RLS decides what the caller sees. `create or replace` keeps its grants.
create or replace function public.get_job(p_job_id uuid)
returns setof public.app_generation_job_summaries
language plpgsql stable
set search_path = ''
as $$
begin
  return query select * from public.app_generation_job_summaries where job_id = p_job_id;
end;
$$;

-- ============================================================================================
-- get_job_version: a job's version, under the same rule as get_job
-- ============================================================================================
-- The status route's ETag names the job's version, so checking a client's `If-None-Match` needs this
-- number only, not the job object. Security invoker like get_job: the policy "Owners can read their own
-- jobs" decides, so an unknown or foreign job returns no row (the API's 404), exactly as get_job does.
-- The version rises with every change of what get_job returns (20261202010100_jobs.sql: every update of
-- the job row, which finish_task makes for every step and page that succeeds, and every change of its
-- artifact). A later migration that changes what get_job shows for existing jobs must raise their
-- versions too (`update public.app_generation_jobs set version = version + 1`), or pollers keep their
-- copies.
create function public.get_job_version(p_job_id uuid)
returns table (version bigint)
language sql stable
set search_path = ''
as $$
  select j.version from public.app_generation_jobs j where j.id = p_job_id
$$;

revoke execute on function public.get_job_version(uuid) from public, anon;
grant execute on function public.get_job_version(uuid) to authenticated, service_role;
