-- appgen: the vocabulary every other migration uses — the plan's numbers, the error codes a job or a
-- task can end with, and the stages a job moves through.
--
-- Each is written once, here. SQL reads them from here; Python mirrors the numbers and the codes in
-- `appgen/policy.py`, and tests/integration/test_policy_mirror.py fails when the two drift apart.
-- Changing one is a new migration that replaces the row or the function body, in the same commit as the
-- Python mirror.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Policy: the plan's numbers
-- ============================================================================================
create type public.app_generation_policy as (
  daily_job_cap integer,               -- generation jobs per user in the quota window
  quota_window interval,               -- the rolling window of the daily cap
  running_jobs_per_user integer,       -- a user's further jobs wait queued
  max_pages integer,                   -- pages per spec
  page_parallelism integer,            -- page agents per job at once: min(pages, this) ...
  page_parallelism_max integer,        -- ... which may never exceed this hard maximum
  max_fix_rounds integer,              -- fix rounds before a job that still fails to build fails
  repeated_error_limit integer,        -- validations failing with one error signature before giving up
  job_time_limit interval,             -- from start to the end of the job
  retry_backoff_seconds integer[],     -- waits before the 1st, 2nd, 3rd retry of a transient failure
  task_lease_seconds integer,          -- a claimed task is its worker's this long without a heartbeat
  max_artifact_bytes bigint,           -- size of one ZIP
  artifacts_kept_per_project integer,  -- retention: older artifacts are deleted, their jobs expire
  signed_url_ttl_seconds integer,      -- validity of a download URL
  sweep_interval_seconds integer,      -- how often the cleanup sweeps run
  sweep_batch integer,                 -- rows one sweep handles per kind of work
  scratch_settle_seconds integer,      -- an ended job's scratch is cleared after this long
  jobs_page_max integer,               -- jobs per list page
  logs_page_max integer                -- log lines per page
);

-- One immutable function rather than a table, so that constraints and column defaults can use the
-- numbers too, and the planner folds them into constants.
create function public.app_generation_policy() returns public.app_generation_policy
language sql immutable parallel safe
set search_path = ''
as $$
  select row(
    5,                      -- daily_job_cap
    interval '24 hours',    -- quota_window
    2,                      -- running_jobs_per_user
    20,                     -- max_pages
    4,                      -- page_parallelism
    6,                      -- page_parallelism_max
    4,                      -- max_fix_rounds
    3,                      -- repeated_error_limit (the same error after two fix rounds)
    interval '45 minutes',  -- job_time_limit
    array[20, 60, 180],     -- retry_backoff_seconds
    120,                    -- task_lease_seconds
    350 * 1024 * 1024,      -- max_artifact_bytes
    5,                      -- artifacts_kept_per_project
    15 * 60,                -- signed_url_ttl_seconds
    60,                     -- sweep_interval_seconds
    100,                    -- sweep_batch
    60,                     -- scratch_settle_seconds
    100,                    -- jobs_page_max
    500                     -- logs_page_max
  )::public.app_generation_policy
$$;

comment on function public.app_generation_policy() is
  'The plan''s numbers, in one place. Mirrored by appgen/policy.py (a test keeps them equal).';

-- Not secret: the security-invoker read RPCs use it as their caller, a frontend may show the caps, and
-- the service role may write the tables directly, whose constraints and defaults call it.
revoke execute on function public.app_generation_policy() from public, anon;
grant execute on function public.app_generation_policy() to authenticated, service_role;

-- ============================================================================================
-- Error codes: why a job or a task failed
-- ============================================================================================
create table public.app_generation_error_codes (
  code text primary key check (code ~ '^[a-z][a-z0-9_]*$'),
  -- A job that failed with it does not count against its owner's daily cap (not the user's doing).
  refunded boolean not null,
  -- A step failing with it is retried with the policy's backoff (the cause may pass by itself).
  transient boolean not null,
  description text not null
);

comment on table public.app_generation_error_codes is
  'Every error code a job or a task can carry, with the rules that hang on it. Mirrored by appgen/policy.py.';

insert into public.app_generation_error_codes (code, refunded, transient, description) values
  ('internal',               true,  false, 'an internal error of appgen (details in the service''s logs)'),
  ('timeout',                true,  false, 'the job or one of its agents ran out of time'),
  ('cancelled',              true,  false, 'the step stopped because its job was cancelled'),
  ('dependency_unavailable', true,  true,  'a service a step needs (storage, the queue) was unavailable'),
  ('storage_failed',         true,  true,  'an upload could not be verified'),
  ('storage_refused',        true,  false, 'the object store refused a request'),
  ('unsafe_archive',         false, false, 'a snapshot held a path leaving the workspace'),
  ('agent_auth',             true,  false, 'the Gemini API refused the server''s key'),
  ('agent_config',           true,  false, 'the Gemini CLI configuration is not valid'),
  ('agent_quota',            true,  true,  'the Gemini API quota is exhausted'),
  ('model_unavailable',      true,  true,  'the Gemini API is unavailable or unreachable'),
  ('model_rejected',         false, false, 'the Gemini API rejected the request'),
  ('agent_input',            false, false, 'the Gemini CLI rejected its input'),
  ('agent_turn_limit',       false, false, 'an agent reached its turn limit'),
  ('agent_tool_error',       false, false, 'a tool call of an agent failed'),
  ('agent_untrusted_folder', false, false, 'the Gemini CLI did not trust the workspace'),
  ('agent_failed',           false, false, 'the Gemini CLI failed'),
  ('command_timeout',        false, false, 'npm install, build or lint did not finish in time'),
  ('build_failed',           false, false, 'the app still failed to build when the fix loop stopped'),
  ('guardrail_violation',    false, false, 'the app breaks the plan''s rules (database layer, secrets)'),
  ('missing_files',          false, false, 'the app lacks a required file'),
  ('artifact_too_large',     false, false, 'the ZIP is larger than the policy allows');

alter table public.app_generation_error_codes enable row level security;
revoke all on public.app_generation_error_codes from anon, authenticated;

-- ============================================================================================
-- Stages: what a job is doing, in order, and how far along that puts it
-- ============================================================================================
create table public.app_generation_stages (
  name text primary key,
  position integer not null unique,
  task_kind text unique,                          -- the step that runs in it (none while queued or done)
  percent integer not null check (percent between 0 and 100),  -- progress when the stage begins
  pages_span integer not null default 0,          -- plus this much spread over the job's pages
  fix_round_step integer not null default 0       -- plus this much per fix round
);

comment on table public.app_generation_stages is
  'The stages of a job in order, the step each runs and the progress it stands for.';

insert into public.app_generation_stages (name, position, task_kind, percent, pages_span, fix_round_step) values
  ('queued',    0, null,        0,  0, 0),
  ('scaffold',  1, 'scaffold',  5,  0, 0),
  ('pages',     2, 'page',      10, 50, 0),
  ('integrate', 3, 'integrate', 65, 0, 0),
  ('validate',  4, 'validate',  75, 0, 3),
  ('fix',       5, 'fix',       72, 0, 3),
  ('package',   6, 'package',   92, 0, 0),
  ('done',      7, null,        100, 0, 0);

-- Owners read their jobs' progress through the security-invoker summaries view, which reads this.
alter table public.app_generation_stages enable row level security;
create policy "Signed-in users can read the stages" on public.app_generation_stages
  for select to authenticated using (true);
revoke all on public.app_generation_stages from anon;
revoke insert, update, delete, truncate on public.app_generation_stages from authenticated;
