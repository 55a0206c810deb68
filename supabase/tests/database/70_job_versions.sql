-- Job versions and change notifications (20261202010100_jobs.sql, 20261202010400_logs.sql,
-- 20261202010500_read_model.sql): the version the job event stream names rises with every change of
-- the job object the API shows, owners read it through get_job, the triggers that notify are in place,
-- and appending lines still works under the per-job lock. (The notifications themselves are delivered at
-- commit, which a test inside `begin … rollback` never reaches: tests/integration/test_job_changes.py
-- listens for them.)
begin;
create extension if not exists pgtap;
select plan(13);

\ir helpers.psql

select set_config('test.u1', 'e0000000-0000-4000-8000-000000000001', true);
select set_config('test.p1', 'f0000000-0000-4000-8000-000000000001', true);

-- Whether the job's version rose since the last call (the first call only remembers it).
create function pg_temp.rose(p_job uuid) returns boolean language plpgsql as $$
declare
  v_now bigint := (select version from public.app_generation_jobs where id = p_job);
  v_before bigint := nullif(current_setting('test.version', true), '')::bigint;
begin
  perform set_config('test.version', v_now::text, true);
  return v_before is not null and v_now > v_before;
end;
$$;

select pg_temp.become(pg_temp.id('u1'));
select pg_temp.remember('j1', job_id) from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 2));
select is((select version from public.get_job(pg_temp.id('j1'))), 1::bigint,
  'a new job is at version 1, and its owner reads it through get_job');
select is((select version from public.list_jobs(pg_temp.id('p1'))), 1::bigint, 'and through list_jobs');

reset role;
select pg_temp.rose(pg_temp.id('j1'));
select pg_temp.become_service();
select public.start_job(pg_temp.id('j1'));
select ok(pg_temp.rose(pg_temp.id('j1')), 'starting the job raises its version');
select pg_temp.run(pg_temp.id('j1'), 'scaffold');
select ok(pg_temp.rose(pg_temp.id('j1')), 'finishing a step raises it');
select pg_temp.run(pg_temp.id('j1'), 'page');
select is((select pages_done from public.app_generation_job_summaries where job_id = pg_temp.id('j1')), 1,
  'control: one page is done');
select ok(pg_temp.rose(pg_temp.id('j1')),
  'a page finishing raises it (pages done is counted from the tasks, but finish_task updates the job row)');
select public.add_job_warning(pg_temp.id('j1'), 'offline_model', 'no model');
select ok(pg_temp.rose(pg_temp.id('j1')), 'a warning raises it');
select public.record_artifact(pg_temp.id('j1'), 'generated-apps', 'o/p/j/app.zip', 10, repeat('b', 64));
select ok(pg_temp.rose(pg_temp.id('j1')),
  'recording the artifact raises it, though it writes the artifact row, not the job''s');

select has_trigger('public', 'app_generation_jobs', 'app_generation_job_version',
  'every update of a job row raises its version');
select has_trigger('public', 'app_generation_jobs', 'app_generation_job_changed',
  'every update of a job row notifies app_generation_job_changes');
select has_trigger('public', 'app_generation_logs', 'app_generation_log_appended',
  'every new log line notifies app_generation_job_changes');
select has_trigger('public', 'app_generation_artifacts', 'app_generation_artifact_touches_job',
  'a change of an artifact touches its job');

select ok(
  public.append_job_log(pg_temp.id('j1'), null, 'info', 'pages', 'first')
    < public.append_job_log(pg_temp.id('j1'), null, 'info', 'pages', 'second'),
  'lines appended under the per-job lock get rising ids');

select * from finish();
rollback;
