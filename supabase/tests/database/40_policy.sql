-- The policy, the error codes and the stages (20261201221000_policy.sql) are where the rules read their
-- numbers and codes from: changing one there changes the rule, and nothing outside them is accepted.
begin;
create extension if not exists pgtap;
select plan(16);

\ir helpers.psql

select set_config('test.user', 'f0000000-0000-4000-8000-000000000001', true);

-- ---------------------------------------------------------------------------------------------
-- Policy
-- ---------------------------------------------------------------------------------------------
select is((public.app_generation_policy()).daily_job_cap, 5, 'the daily cap is 5 jobs');
select is((select provolatile::text from pg_proc where oid = 'public.app_generation_policy()'::regprocedure), 'i',
  'the policy is immutable, so constraints and defaults may use it');
select pg_temp.become(pg_temp.id('user'));
select throws_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 21))$$,
  'AGIV0', 'pages: has 21 pages; at most 20 are allowed', 'submit_job refuses more pages than the policy allows');
select pg_temp.remember('job', (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 2))));
reset role;
select results_eq(
  $$select max_fix_rounds, time_limit from public.app_generation_jobs where id = pg_temp.id('job')$$,
  $$values (4, interval '45 minutes')$$, 'a new job takes its fix budget and time limit from the policy');
select is((select file_size_limit from storage.buckets where id = 'generated-apps'),
  (public.app_generation_policy()).max_artifact_bytes, 'the bucket''s size limit is the policy''s');

-- A job's own time limit, not a number in the sweep, names the limit in its failure.
update public.app_generation_jobs set time_limit = interval '30 minutes' where id = pg_temp.id('job');
select pg_temp.become_service();
select public.start_job(pg_temp.id('job'));
reset role;
select is((select deadline_at - started_at from public.app_generation_jobs where id = pg_temp.id('job')),
  interval '30 minutes', 'the deadline follows the job''s time limit');
update public.app_generation_jobs set deadline_at = now() - interval '1 second' where id = pg_temp.id('job');
select pg_temp.become_service();
select public.fail_overdue_jobs();
reset role;
select is((select error_message from public.app_generation_jobs where id = pg_temp.id('job')),
  'The job reached its 30-minute limit before it finished.', 'the timeout message is derived from the limit');

-- ---------------------------------------------------------------------------------------------
-- Error codes
-- ---------------------------------------------------------------------------------------------
select throws_ok(
  format($$update public.app_generation_jobs set error_code = 'made_up' where id = %L$$, pg_temp.id('job')),
  '23503', null, 'a job cannot carry an error code the table does not know');
select pg_temp.become(pg_temp.id('user'));
select pg_temp.remember('job2', (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 1))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('job2'));
select public.claim_task(pg_temp.task(pg_temp.id('job2'), 'scaffold'));
select throws_ok(
  $$select public.fail_task(pg_temp.task(pg_temp.id('job2'), 'scaffold'), 1, 'made_up', 'x')$$,
  'AGIV0', 'unknown error code made_up', 'fail_task refuses an unknown error code');
select results_eq(
  $$select kind, delay_seconds from public.fail_task(pg_temp.task(pg_temp.id('job2'), 'scaffold'), 1,
                                                      'storage_failed', 'upload not verified')$$,
  $$values ('scaffold'::text, 20)$$, 'a code the table marks transient is retried with the policy''s backoff');
reset role;
update public.app_generation_error_codes set transient = false where code = 'storage_failed';
update public.app_generation_tasks set not_before = now() where id = pg_temp.task(pg_temp.id('job2'), 'scaffold');
select pg_temp.become_service();
select public.claim_task(pg_temp.task(pg_temp.id('job2'), 'scaffold'));
select is_empty(
  $$select * from public.fail_task(pg_temp.task(pg_temp.id('job2'), 'scaffold'), 2, 'storage_failed', 'again')$$,
  'the same code marked permanent in the table fails at once: the table decides');
select results_eq($$select status::text, error_code from public.app_generation_jobs where id = pg_temp.id('job2')$$,
  $$values ('failed'::text, 'storage_failed'::text)$$, 'and the job fails with it');
reset role;
select ok(public.app_generation_refunded(j), 'a refunded code in the table refunds the job')
from public.app_generation_jobs j where j.id = pg_temp.id('job2');
update public.app_generation_error_codes set refunded = false where code = 'storage_failed';
select ok(not public.app_generation_refunded(j), 'and stops refunding it once the table says so')
from public.app_generation_jobs j where j.id = pg_temp.id('job2');

-- ---------------------------------------------------------------------------------------------
-- Stages
-- ---------------------------------------------------------------------------------------------
select throws_ok(
  format($$insert into public.app_generation_tasks (job_id, owner_id, kind) values (%L, gen_random_uuid(), 'deploy')$$,
         pg_temp.id('job2')),
  '23503', null, 'a task kind must be the step of a stage');
select pg_temp.become(pg_temp.id('user'));
select pg_temp.remember('job3', (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 1))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('job3'));
select pg_temp.run(pg_temp.id('job3'), 'scaffold');
select is((select stage from public.claim_task(pg_temp.task(pg_temp.id('job3'), 'page'))), 'pages',
  'claiming a page task puts the job in the stage whose step it is, and says so');

select * from finish();
rollback;
