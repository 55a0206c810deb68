-- The status route's reads (20261202050641_read_model.sql): get_job_version answers a job's version
-- under the same rule as get_job (the owner reads it, anyone else gets no row, anon may not call it), it
-- rises with the job, and get_job, whose plan the session now keeps, still shows a user only their own
-- job after the service role (which bypasses RLS) used it in the same session.
begin;
create extension if not exists pgtap;
select plan(12);

\ir helpers.psql

select set_config('test.alice', 'e0000000-0000-4000-8000-0000000000a1', true);
select set_config('test.bob', 'e0000000-0000-4000-8000-0000000000b0', true);
select set_config('test.p1', 'f0000000-0000-4000-8000-0000000000a1', true);

select pg_temp.become(pg_temp.id('alice'));
select pg_temp.remember('j1', job_id) from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 2));
select is((select version from public.get_job_version(pg_temp.id('j1'))), 1::bigint,
  'the owner reads her new job''s version');
select is((select version from public.get_job_version(pg_temp.id('j1'))),
  (select version from public.get_job(pg_temp.id('j1'))), 'the same version get_job returns');

select pg_temp.become_service();
select public.start_job(pg_temp.id('j1'));
select pg_temp.become(pg_temp.id('alice'));
select is((select version from public.get_job_version(pg_temp.id('j1'))), 2::bigint,
  'starting the job raises the version she reads');
select is((select version from public.get_job_version(pg_temp.id('j1'))),
  (select version from public.get_job(pg_temp.id('j1'))), 'still the version get_job returns');
select is_empty($$select * from public.get_job_version(gen_random_uuid())$$,
  'an unknown job has no version to read');

-- The service role bypasses RLS: the plans it makes of get_job and get_job_version in this session must
-- not be reused for a signed-in user.
select pg_temp.become_service();
select is((select version from public.get_job_version(pg_temp.id('j1'))), 2::bigint,
  'the service role reads any job''s version');
select is((select status::text from public.get_job(pg_temp.id('j1'))), 'running',
  'the service role reads any job');
select pg_temp.become(pg_temp.id('bob'));
select is_empty(format('select * from public.get_job_version(%L)', pg_temp.id('j1')),
  'a stranger gets no version of her job, after the service role read it in the same session');
select is_empty(format('select * from public.get_job(%L)', pg_temp.id('j1')),
  'nor the job itself: get_job''s kept plan does not carry over the service role''s view');
select pg_temp.become(pg_temp.id('alice'));
select is((select status::text from public.get_job(pg_temp.id('j1'))), 'running', 'while she still reads it');

reset role;
set local role anon;
set local "request.jwt.claims" to '{"role": "anon"}';
select throws_ok($$select public.get_job_version(gen_random_uuid())$$, '42501', null,
  'anon cannot call get_job_version');
reset role;

select function_lang_is('public', 'get_job', array['uuid'], 'plpgsql',
  'get_job is PL/pgSQL, so its plan is kept for the session instead of made on every call');

select * from finish();
rollback;
