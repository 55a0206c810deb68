-- Guardrail rounds and the build report's source (20261125000200_generation_guardrails.sql): a validate
-- round the guard failed asks for a fix like any failed check and, out of rounds, fails the job with the
-- guard's summary; list_job_tasks gives a worker every step with its result, in pipeline order, and
-- nothing to users.
begin;
create extension if not exists pgtap;
select plan(12);

create function pg_temp.become(p_user uuid) returns void language sql as $$
  select set_config('request.jwt.claims', json_build_object('sub', p_user, 'role', 'authenticated')::text, true);
  select set_config('role', 'authenticated', true);
$$;
create function pg_temp.become_service() returns void language sql as $$
  select set_config('request.jwt.claims', '{"role": "service_role"}', true);
  select set_config('role', 'service_role', true);
$$;
create function pg_temp.remember(p_name text, p_id uuid) returns uuid language sql as $$
  select set_config('test.' || p_name, p_id::text, true)::uuid
$$;
create function pg_temp.id(p_name text) returns uuid language sql stable as $$
  select current_setting('test.' || p_name)::uuid
$$;
-- Claims and finishes the open task of a kind, as a worker; returns the kinds dispatched next.
create function pg_temp.run(p_job uuid, p_kind text, p_result jsonb default '{}')
returns setof text language plpgsql as $$
declare
  v_task uuid;
  v_attempt integer;
begin
  select id into v_task from public.app_generation_tasks
  where job_id = p_job and kind = p_kind and status = 'pending' order by ordinal limit 1;
  select c.attempt into v_attempt from public.claim_task(v_task) c;
  return query select d.kind from public.finish_task(v_task, v_attempt, p_result, 100, 10) d;
end;
$$;

select set_config('test.user', 'e0000000-0000-4000-8000-000000000001', true);
select pg_temp.become(pg_temp.id('user'));
select pg_temp.remember('job', (select job_id from public.submit_job(
  jsonb_build_object('projectId', gen_random_uuid(), 'pages',
                     jsonb_build_array(jsonb_build_object('pageId', 'home'), jsonb_build_object('pageId', 'about'))))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('job'));
select pg_temp.run(pg_temp.id('job'), 'scaffold');
select pg_temp.run(pg_temp.id('job'), 'page');
select pg_temp.run(pg_temp.id('job'), 'page');
select pg_temp.run(pg_temp.id('job'), 'integrate');

-- A guard failure is a failed validation: the database asks for fix round 1.
select results_eq(
  $$select pg_temp.run(pg_temp.id('job'), 'validate', jsonb_build_object(
      'outcome', 'failed', 'command', 'appgen guardrails', 'signature', 'guard',
      'summary', 'appgen guardrails: error: the app uses a database layer',
      'guard', jsonb_build_object('removed', jsonb_build_array('prisma/schema.prisma'))))$$,
  $$values ('fix'::text)$$, 'a validate round the guard failed asks for a fix round');
select is((select status::text from public.app_generation_jobs where id = pg_temp.id('job')), 'fixing',
  'the job is fixing');
select pg_temp.run(pg_temp.id('job'), 'fix', '{"diffSummary": "--- a/lib/db.ts"}');

select results_eq(
  $$select kind, key, status::text, tokens_input, result ->> 'outcome'
    from public.list_job_tasks(pg_temp.id('job'))$$,
  $$values ('scaffold', '', 'succeeded', 100::bigint, null::text),
           ('page', 'home', 'succeeded', 100::bigint, null), ('page', 'about', 'succeeded', 100::bigint, null),
           ('integrate', '', 'succeeded', 100::bigint, null),
           ('validate', '0', 'succeeded', 100::bigint, 'failed'), ('fix', '1', 'succeeded', 100::bigint, null),
           ('validate', '1', 'pending', 0::bigint, null)$$,
  'list_job_tasks gives every step in pipeline order, rounds interleaved, with tokens and results');
select is((select result -> 'guard' -> 'removed' ->> 0 from public.list_job_tasks(pg_temp.id('job'))
           where kind = 'validate' and key = '0'),
  'prisma/schema.prisma', 'the guard''s removals are kept with the round for the build report');
select is((select result ->> 'diffSummary' from public.list_job_tasks(pg_temp.id('job')) where kind = 'fix'),
  '--- a/lib/db.ts', 'each fix round''s diff summary is kept for the build report');
select is_empty($$select * from public.list_job_tasks(gen_random_uuid())$$, 'an unknown job has no steps');

-- Out of rounds, a guard failure fails the job with the guard's summary.
reset role;
update public.app_generation_jobs set max_fix_rounds = 1 where id = pg_temp.id('job');
select pg_temp.become_service();
select is_empty(
  $$select pg_temp.run(pg_temp.id('job'), 'validate', jsonb_build_object(
      'outcome', 'failed', 'command', 'appgen guardrails', 'signature', 'guard-2',
      'summary', 'appgen guardrails: error: the app uses a database layer'))$$,
  'the last round failing the guard dispatches nothing more');
select results_eq(
  $$select status::text, error_code from public.app_generation_jobs where id = pg_temp.id('job')$$,
  $$values ('failed', 'build_failed')$$, 'the job fails');
select matches((select error_message from public.app_generation_jobs where id = pg_temp.id('job')),
  'appgen guardrails: error: the app uses a database layer', 'its reason names the guardrail');

-- Workers only.
select ok(has_function_privilege('service_role', 'public.list_job_tasks(uuid)', 'EXECUTE'),
  'the service role may list a job''s tasks');
select ok(not has_function_privilege('authenticated', 'public.list_job_tasks(uuid)', 'EXECUTE'),
  'signed-in users may not (their tasks'' raw output stays with the workers)');
select ok(not has_function_privilege('anon', 'public.list_job_tasks(uuid)', 'EXECUTE'), 'anon may not');

select * from finish();
rollback;
