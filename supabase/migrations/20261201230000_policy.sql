-- appgen: tenant hardening of the policy domain: exact privileges on the reference tables, the
-- spec's limits in the policy, the `spec_unreadable` error code, and `agent_turn_limit` no longer one.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Exact privileges on the reference tables
-- ============================================================================================
-- Supabase grants ALL on every new table in `public` to anon, authenticated and service_role (default
-- privileges; appgen/localstack/supabase_compat.sql mirrors them), so the first migrations' partial
-- revokes left anon and authenticated holding REFERENCES and TRIGGER. Each domain now states the complete
-- set instead: revoke everything, then grant back exactly what a role needs. The pgTAP schema test
-- asserts the complete set per role for every appgen table, sequence and function.

-- ============================================================================================
-- Error codes: nobody but the service role reads them (the rules read them as definers)
-- ============================================================================================
revoke all on public.app_generation_error_codes from anon, authenticated;

-- ============================================================================================
-- Stages: signed-in users read them (the security-invoker summaries view computes progress from them)
-- ============================================================================================
revoke all on public.app_generation_stages from anon, authenticated;
grant select on public.app_generation_stages to authenticated;

-- ============================================================================================
-- The spec's limits join the policy
-- ============================================================================================
-- The HTTP API validates a spec with appgen/spec.py; submit_job, which signed-in users can also call
-- straight through Supabase's REST API, checked only its page count. Both now read every limit from
-- here: appgen/policy.py mirrors these attributes (tests/integration/test_policy_mirror.py keeps them
-- equal) and appgen/spec.py builds its model from the mirror, while submit_job checks a spec against them
-- in SQL (see the jobs migration after this one).
--
-- The two patterns are written in the syntax both regular-expression engines share (pydantic's Rust
-- `regex` and Postgres's ARE): anchors, classes, counted repetition and non-capturing groups only.

-- ============================================================================================
-- Policy: the spec's limits
-- ============================================================================================
alter type public.app_generation_policy
  add attribute max_preview_html_bytes integer,        -- UTF-8 bytes of one page's selected preview HTML
  add attribute max_total_preview_html_bytes integer,  -- ... and of all pages' together
  add attribute max_actions_per_page integer,          -- wanted actions (API routes) per page
  add attribute max_palette_entries integer,           -- style.palette entries
  add attribute max_typography_entries integer,        -- style.typography entries
  add attribute max_tree_node_bytes integer,           -- a page's treeNode, as compact-ish JSON text
  add attribute max_note_chars integer,                -- notes: brief.details, style.notes, globalNotes, pages[].notes
  add attribute max_text_chars integer,                -- short texts: brief.audience, brief.goals
  add attribute max_title_chars integer,               -- brief.title
  add attribute max_name_chars integer,                -- pages[].name, style.name, font families
  add attribute max_label_chars integer,               -- palette colour names, font roles
  add attribute max_color_chars integer,               -- palette colour values
  add attribute slug_pattern text,                     -- pageId and action names
  add attribute route_pattern text,                    -- static routes: "/" or "/segment[/segment…]"
  add attribute reserved_route_segments text[];        -- first route segments the generated app keeps

create or replace function public.app_generation_policy() returns public.app_generation_policy
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
    500,                    -- logs_page_max
    300000,                 -- max_preview_html_bytes
    2000000,                -- max_total_preview_html_bytes
    10,                     -- max_actions_per_page
    24,                     -- max_palette_entries
    8,                      -- max_typography_entries
    20000,                  -- max_tree_node_bytes
    4000,                   -- max_note_chars
    2000,                   -- max_text_chars
    200,                    -- max_title_chars
    100,                    -- max_name_chars
    40,                     -- max_label_chars
    60,                     -- max_color_chars
    '^[a-z][a-z0-9-]{0,39}$',                                             -- slug_pattern
    '^/(?:[a-z0-9][a-z0-9-]{0,39}(?:/[a-z0-9][a-z0-9-]{0,39}){0,4})?$',   -- route_pattern
    array['api', '_next', 'components', 'lib', 'public']                  -- reserved_route_segments
  )::public.app_generation_policy
$$;

-- ============================================================================================
-- A stored spec the worker cannot load fails its job at once
-- ============================================================================================
-- submit_job checks a spec's shape in SQL (20261201230100_jobs.sql) and the API checks it in Python, with
-- the same limits. Should the two still disagree (a rule added on one side only, a row written by hand),
-- the worker used to crash on the spec as an internal error, each redelivery again, while the job held a
-- running slot until its 45-minute deadline. Now the first step that cannot load the spec fails the job
-- with `spec_unreadable`: not retried (the spec does not change) and refunded (the database accepted it,
-- so it is not its owner's doing). Mirrored by ErrorCode in appgen/policy.py and the README's table.

insert into public.app_generation_error_codes (code, refunded, transient, description) values
  ('spec_unreadable', true, false, 'the worker could not load the job''s stored spec');

-- ============================================================================================
-- agent_turn_limit is a warning now, not an error code
-- ============================================================================================
-- An agent that reaches its turn limit keeps its edits and the job carries the warning `agent_turn_limit`
-- (the runner no longer fails the step), so no job or task fails with that code any more.
delete from public.app_generation_error_codes where code = 'agent_turn_limit';
