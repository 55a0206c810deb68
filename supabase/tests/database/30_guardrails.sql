-- Guardrail rounds and the build report's source (20261125000200_generation_guardrails.sql): a validate
-- round the guard failed asks for a fix like any failed check and, out of rounds, fails the job with the
-- guard's summary; list_job_tasks gives a worker every step with its result, in pipeline order, and
-- nothing to users.
begin;
create extension if not exists pgtap;
select plan(12);

\ir helpers.psql

select set_config('test.user', 'e0000000-0000-4000-8000-000000000001', true);
select pg_temp.become(pg_temp.id('user'));
select pg_temp.remember('job', (select job_id from public.submit_job(
  jsonb_set(pg_temp.spec(gen_random_uuid(), 2), '{pages}', jsonb_build_array(
    jsonb_build_object('pageId', 'home', 'route', '/', 'name', 'Home', 'selectedPreviewHtml', '<h1>Home</h1>'),
    jsonb_build_object('pageId', 'about', 'route', '/about', 'name', 'About', 'selectedPreviewHtml', '<h1>About</h1>'))))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('job'));
select kind from pg_temp.run(pg_temp.id('job'), 'scaffold');
select kind from pg_temp.run(pg_temp.id('job'), 'page');
select kind from pg_temp.run(pg_temp.id('job'), 'page');
select kind from pg_temp.run(pg_temp.id('job'), 'integrate');

-- A guard failure is a failed validation: the database asks for fix round 1.
select results_eq(
  $$select kind from pg_temp.run(pg_temp.id('job'), 'validate', jsonb_build_object(
      'outcome', 'failed', 'command', 'appgen guardrails', 'signature', 'guard',
      'summary', 'appgen guardrails: error: the app uses a database layer',
      'guard', jsonb_build_object('removed', jsonb_build_array('prisma/schema.prisma'))))$$,
  $$values ('fix'::text)$$, 'a validate round the guard failed asks for a fix round');
select is((select status::text from public.app_generation_jobs where id = pg_temp.id('job')), 'fixing',
  'the job is fixing');
select kind from pg_temp.run(pg_temp.id('job'), 'fix', '{"diffSummary": "--- a/lib/db.ts"}');

select results_eq(
  $$select kind, key, status::text, tokens_input, result ->> 'outcome'
    from public.list_job_tasks(pg_temp.id('job'))$$,
  $$values ('scaffold', '', 'succeeded', 10::bigint, null::text),
           ('page', 'home', 'succeeded', 10::bigint, null), ('page', 'about', 'succeeded', 10::bigint, null),
           ('integrate', '', 'succeeded', 10::bigint, null),
           ('validate', '0', 'succeeded', 10::bigint, 'failed'), ('fix', '1', 'succeeded', 10::bigint, null),
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
  $$select kind from pg_temp.run(pg_temp.id('job'), 'validate', jsonb_build_object(
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
