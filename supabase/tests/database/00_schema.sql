-- Schema, row level security and grants of the control plane (DESIGN.md §6).
--
-- "appgen functions" below are the functions in `public` that no extension owns (locally pgcrypto and
-- pgTAP live in `public`) and that are named app_generation_* or use the app_generation_* relations, so a
-- new RPC is covered the day it is added while a frontend's own functions in the same project are not. Run by `supabase test db` and, locally, by tests/integration/test_pgtap.py through pg_prove.
begin;
create extension if not exists pgtap;

-- Tables of owners' data (every row has an owner_id) and reference tables (the same for everyone).
create temporary view appgen_tables (name) as
values ('app_generation_projects'), ('app_generation_jobs'), ('app_generation_job_specs'),
       ('app_generation_job_events'), ('app_generation_tasks'), ('app_generation_artifacts'),
       ('app_generation_logs');
create temporary view reference_tables (name) as
values ('app_generation_error_codes'), ('app_generation_stages');
create temporary view all_tables (name) as
select name from appgen_tables union all select name from reference_tables;

create temporary view appgen_functions as
select p.oid, p.proname, p.oid::regprocedure::text as signature, p.prosecdef, p.proconfig, p.proacl,
       p.proowner,
       array(select format_type(a.type, null) from unnest(p.proargtypes::oid[]) with ordinality a(type, n)
             order by a.n)::name[] as argtypes
from pg_proc p
where p.pronamespace = 'public'::regnamespace
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  and (p.proname like 'app\_generation\_%' or p.prosrc like '%public.app\_generation\_%');

-- RPCs a signed-in user may call; every other appgen function is internal or for workers.
create temporary view user_rpcs (proname) as
values ('submit_job'), ('cancel_job'), ('request_download'), ('get_job'), ('get_job_version'), ('list_jobs'),
       ('list_job_logs'), ('app_generation_policy');

-- The complete privileges of `authenticated` on every appgen table and view; `anon` holds none on any.
-- Signed-in users only ever read (RLS shows them their own rows); they write through the RPCs.
create temporary view relation_privileges (name, authenticated) as
values ('app_generation_projects', '{SELECT}'::name[]), ('app_generation_jobs', '{SELECT}'),
       ('app_generation_job_specs', '{SELECT}'), ('app_generation_job_events', '{SELECT}'), ('app_generation_tasks', '{SELECT}'),
       ('app_generation_artifacts', '{SELECT}'), ('app_generation_logs', '{SELECT}'),
       ('app_generation_stages', '{SELECT}'), ('app_generation_error_codes', '{}'),
       ('app_generation_job_summaries', '{SELECT}');

-- The identity sequences behind the tables' ids: only the RPCs (as the tables' owner) draw from them.
create temporary view appgen_sequences (name) as
select c.relname::text from pg_class c
where c.relnamespace = 'public'::regnamespace and c.relkind = 'S' and c.relname like 'app\_generation\_%';

create temporary view api_roles (role) as values ('anon'::name), ('authenticated');

select plan(40
            + 2 * (select count(*)::integer from relation_privileges)
            + 2 * (select count(*)::integer from appgen_sequences)
            + 2 * (select count(*)::integer from appgen_functions));

-- ---------------------------------------------------------------------------------------------
-- Tables, enum, RLS
-- ---------------------------------------------------------------------------------------------
select is(array(select tablename::text from pg_tables where schemaname = 'public' and tablename like 'app\_generation\_%'
              order by 1),
  array(select name from all_tables order by 1), 'the control plane has its seven tables and two reference tables');
select has_view('public', 'app_generation_job_summaries', 'the job summaries view exists');
select enum_has_labels('public', 'app_generation_status',
  array['queued', 'running', 'fixing', 'completed', 'completed_with_warnings', 'failed', 'expired', 'cancelled'],
  'job states, in order');
select enum_has_labels('public', 'app_generation_task_status',
  array['pending', 'running', 'succeeded', 'failed', 'cancelled'], 'task states, in order');

select is(
  array(select t.name from all_tables t join pg_class c on c.oid = ('public.' || t.name)::regclass
        where not c.relrowsecurity order by 1),
  '{}'::text[], 'row level security is enabled on every table');
select is(
  (select reloptions from pg_class where oid = 'public.app_generation_job_summaries'::regclass),
  array['security_invoker=true'], 'the summaries view runs as its caller, so RLS applies through it');

-- ---------------------------------------------------------------------------------------------
-- Policies: exactly one per table, select-only, for authenticated, on (select auth.uid()) = owner_id
-- ---------------------------------------------------------------------------------------------
select policies_are('public', 'app_generation_projects', array['Owners can read their own projects']);
select policies_are('public', 'app_generation_jobs', array['Owners can read their own jobs']);
select policies_are('public', 'app_generation_job_specs', array['Owners can read the specs of their own jobs']);
select policies_are('public', 'app_generation_job_events', array['Owners can read the events of their own jobs']);
select policies_are('public', 'app_generation_tasks', array['Owners can read the tasks of their own jobs']);
select policies_are('public', 'app_generation_artifacts', array['Owners can read their own artifacts']);
select policies_are('public', 'app_generation_logs', array['Owners can read the logs of their own jobs']);
select policies_are('public', 'app_generation_stages', array['Signed-in users can read the stages']);
select is((select count(*)::integer from pg_policies where tablename = 'app_generation_error_codes'), 0,
  'no policy opens the error codes to users');
select is(
  array(select p.tablename || ': ' || p.policyname from pg_policies p
        where p.schemaname = 'public' and p.tablename in (select name from appgen_tables)
          and (p.cmd <> 'SELECT' or p.roles <> array['authenticated']::name[]
               or p.qual <> '(( SELECT auth.uid() AS uid) = owner_id)' or p.with_check is not null)
        order by 1),
  '{}'::text[], 'every policy lets authenticated select only its own rows, via (select auth.uid())');

-- Every column a policy filters on leads an index.
select is(
  array(select t.name from appgen_tables t
        where not exists (
          select 1 from pg_index i
          where i.indrelid = ('public.' || t.name)::regclass
            and i.indkey[0] = (select attnum from pg_attribute
                               where attrelid = ('public.' || t.name)::regclass and attname = 'owner_id'))
        order by 1),
  '{}'::text[], 'owner_id, which the policies filter on, leads an index on every table');

-- ---------------------------------------------------------------------------------------------
-- Privileges: the complete set each API role holds on every appgen table, view, sequence and function.
-- Supabase grants ALL on everything new in `public` to anon and authenticated (supabase_compat.sql
-- mirrors it), so anything not revoked explicitly would show up here.
-- ---------------------------------------------------------------------------------------------
select is(
  array(select c.relname::text from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')
          and c.relname like 'app\_generation\_%' order by 1),
  array(select name from relation_privileges order by 1),
  'the privilege table names every appgen table and view');
select table_privs_are('public', r.name, a.role,
  case when a.role = 'authenticated' then r.authenticated else '{}'::name[] end,
  format('%s holds exactly %s on %s', a.role,
         case when a.role = 'authenticated' then r.authenticated else '{}'::name[] end, r.name))
from relation_privileges r cross join api_roles a;

select is(array(select name from appgen_sequences order by 1),
  array['app_generation_job_events_id_seq', 'app_generation_logs_id_seq'],
  'the appgen sequences are the identity sequences of the events and the logs');
select sequence_privs_are('public', s.name, a.role, '{}'::name[],
  format('%s holds no privilege on the sequence %s', a.role, s.name))
from appgen_sequences s cross join api_roles a;

select function_privs_are('public', f.proname, f.argtypes, a.role,
  case when a.role = 'authenticated' and f.proname in (select proname from user_rpcs)
       then '{EXECUTE}'::name[] else '{}'::name[] end,
  format('%s %s %s', a.role,
         case when a.role = 'authenticated' and f.proname in (select proname from user_rpcs)
              then 'may execute' else 'may not execute' end, f.signature))
from appgen_functions f cross join api_roles a;

select is(
  array(select t.name from appgen_tables t
        where t.name <> 'app_generation_job_specs'
          and not has_table_privilege('service_role', 'public.' || t.name, 'SELECT, INSERT, UPDATE')
        order by 1),
  '{}'::text[], 'the service role (workers) can read and write every table but the specs');
select table_privs_are('public', 'app_generation_job_specs', 'service_role', array['SELECT'],
  'the service role reads the specs but cannot rewrite one: submit_job alone writes them');
select ok((select rolbypassrls from pg_roles where rolname = 'service_role'), 'the service role bypasses RLS');

-- ---------------------------------------------------------------------------------------------
-- Functions: search_path pinned, security definer where needed, EXECUTE only where meant
-- ---------------------------------------------------------------------------------------------
select cmp_ok((select count(*)::integer from appgen_functions), '>=', 25, 'the appgen functions are found');
select is(
  array(select signature from appgen_functions
        where proconfig is null or not ('search_path=""' = any (proconfig)) order by 1),
  '{}'::text[], 'every appgen function pins search_path to the empty string');
select is(
  array(select signature from appgen_functions
        where prosecdef and not ('search_path=""' = any (coalesce(proconfig, '{}'))) order by 1),
  '{}'::text[], 'in particular every security definer function does');

select is(
  array(select signature from appgen_functions f
        where exists (select 1 from aclexplode(coalesce(f.proacl, acldefault('f', f.proowner))) a
                      where a.grantee = 0 and a.privilege_type = 'EXECUTE')
        order by 1),
  '{}'::text[], 'no appgen function is executable by PUBLIC');

-- Worker RPCs: security definer (they write tables the caller cannot) and callable by the service role.
select is(
  array(select w.name from (values ('start_job'), ('claim_task'), ('finish_task'), ('fail_task'),
                                   ('job_is_active'), ('add_job_warning'), ('record_artifact'),
                                   ('expire_old_artifacts'), ('list_artifacts_to_delete'),
                                   ('confirm_artifact_deleted'), ('append_job_log'),
                                   ('fail_overdue_jobs'), ('renew_task_lease'),
                                   ('redispatch_owed_tasks'), ('list_scratch_to_clear'),
                                   ('confirm_scratch_cleared')) w(name)
        where not exists (select 1 from appgen_functions f
                          where f.proname = w.name and f.prosecdef
                            and has_function_privilege('service_role', f.oid, 'EXECUTE'))
        order by 1),
  '{}'::text[], 'every worker RPC is security definer and executable by the service role');
select is(
  array(select signature from appgen_functions
        where proname in ('submit_job', 'cancel_job', 'request_download') and not prosecdef),
  '{}'::text[], 'user RPCs that write or look past RLS are security definer');
select is(
  array(select signature from appgen_functions
        where proname in ('get_job', 'get_job_version', 'list_jobs', 'list_job_logs') and prosecdef),
  '{}'::text[], 'read RPCs are security invoker: RLS decides what the caller sees');

-- ---------------------------------------------------------------------------------------------
-- Constraints and triggers the rules rely on
-- ---------------------------------------------------------------------------------------------
select has_index('public', 'app_generation_jobs', 'app_generation_jobs_idempotency_idx',
  'one idempotency key per user (partial unique index)');
select ok((select indisunique from pg_index
           where indexrelid = 'public.app_generation_jobs_idempotency_idx'::regclass),
  'the idempotency index is unique');
select col_is_unique('public', 'app_generation_artifacts', array['job_id'], 'one artifact per job');
select col_is_unique('public', 'app_generation_tasks', array['job_id', 'kind', 'key'], 'one task per step');
select has_trigger('public', 'app_generation_jobs', 'app_generation_job_status_update',
  'status changes are guarded and recorded');
select has_trigger('public', 'app_generation_jobs', 'app_generation_job_status_insert',
  'the first status is recorded');
select has_trigger('public', 'app_generation_logs', 'app_generation_logs_append_only', 'logs are append-only');
select ok((select not public from storage.buckets where id = 'generated-apps'), 'the artifact bucket is private');

-- ---------------------------------------------------------------------------------------------
-- Realtime: owners may subscribe to their job rows, which must not carry the spec (up to 2 MB)
-- ---------------------------------------------------------------------------------------------
select ok(
  not exists (select 1 from pg_publication where pubname = 'supabase_realtime')
  or exists (select 1 from pg_publication_tables
             where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'app_generation_jobs'),
  'jobs are in the supabase_realtime publication when it exists');
-- Without Supabase (locally) there is no such publication: make one in this transaction, with the jobs
-- table as the jobs migration adds it, to see what it would publish. (The local cluster's wal_level makes
-- CREATE PUBLICATION warn that it would not replicate: irrelevant to what it names.)
set local client_min_messages = error;
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
    alter publication supabase_realtime add table public.app_generation_jobs;
  end if;
end
$$;
reset client_min_messages;
select ok(
  (select not ('generation_spec' = any (attnames)) and 'status' = any (attnames)
   from pg_publication_tables
   where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'app_generation_jobs'),
  'the published columns of the jobs carry their status but not their spec');
select is(
  array(select tablename::text from pg_publication_tables
        where pubname = 'supabase_realtime' and schemaname = 'public' and tablename like 'app\_generation\_%'
        order by 1),
  array['app_generation_jobs'], 'of the appgen tables only the jobs are published (not their specs)');

select * from finish();
rollback;
