-- appgen: exact privileges on projects, jobs and job events (see 20261201230000_policy.sql for why).
--
-- Owners read their own rows (RLS) and write nothing directly: submit_job and cancel_job are the only
-- ways in. anon holds nothing at all: before, it could select (RLS showed it no rows), reference the
-- tables from foreign keys of its own tables, create triggers on them, and draw numbers from the events'
-- identity sequence.
--
-- Error codes: none raised here.

revoke all on public.app_generation_projects, public.app_generation_jobs, public.app_generation_job_events
  from anon, authenticated;
grant select on public.app_generation_projects, public.app_generation_jobs, public.app_generation_job_events
  to authenticated;

-- The identity sequence of the events: only the trigger (as the table owner) draws from it.
revoke all on sequence public.app_generation_job_events_id_seq from anon, authenticated;
