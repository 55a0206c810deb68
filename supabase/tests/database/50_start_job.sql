-- start_job (20261201230200_tasks.sql): a start message counts only while its job is queued, and then
-- hands the owner's free slots out in submission order up to and including that job. Delivery is at least
-- once, so a duplicate start of a running job must not start any other job.
begin;
create extension if not exists pgtap;
select plan(17);

\ir helpers.psql

-- Submits `p_count` one-page jobs as `p_user`, remembered as `<p_prefix>1` … oldest first (distinct
-- submission times: within one transaction now() never moves).
create function pg_temp.submit_jobs(p_user text, p_prefix text, p_count integer) returns void
language plpgsql as $$
begin
  for i in 1..p_count loop
    perform pg_temp.become(pg_temp.id(p_user));
    perform pg_temp.remember(p_prefix || i,
      (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 1))));
    reset role;
    update public.app_generation_jobs set created_at = now() - make_interval(mins => 10 - i)
    where id = pg_temp.id(p_prefix || i);
  end loop;
end;
$$;

create function pg_temp.status(p_name text) returns text language sql stable as $$
  select status::text from public.app_generation_jobs where id = pg_temp.id(p_name)
$$;

-- ---------------------------------------------------------------------------------------------
-- A duplicate start of a running job starts nothing else
-- ---------------------------------------------------------------------------------------------
select pg_temp.remember('dup', gen_random_uuid());
select pg_temp.submit_jobs('dup', 'd', 2);
select pg_temp.become_service();
select results_eq($$select kind, job_id from public.start_job(pg_temp.id('d1'))$$,
  $$values ('scaffold'::text, pg_temp.id('d1'))$$, 'setup: d1 starts (one of two slots used)');
select is_empty($$select * from public.start_job(pg_temp.id('d1'))$$,
  'a duplicate start of the running d1 dispatches nothing, though a slot is free and d2 is queued');
select is(pg_temp.status('d2'), 'queued', 'd2 is still queued: its own start message starts it');
select results_eq($$select kind, job_id from public.start_job(pg_temp.id('d2'))$$,
  $$values ('scaffold'::text, pg_temp.id('d2'))$$, 'd2''s own start starts it');
select is_empty($$select * from public.start_job(pg_temp.id('d2'))$$, 'and its duplicate does nothing');
select is((select count(*)::integer from public.app_generation_tasks where job_id = pg_temp.id('d2')), 1,
  'd2 has one scaffold task, not two');

-- ---------------------------------------------------------------------------------------------
-- Submission order: an older queued job is never overtaken
-- ---------------------------------------------------------------------------------------------
-- o1 runs; o2's start message is late; o3's arrives first, with one slot free.
select pg_temp.remember('order', gen_random_uuid());
select pg_temp.submit_jobs('order', 'o', 3);
select pg_temp.become_service();
select public.start_job(pg_temp.id('o1'));
select results_eq($$select kind, job_id from public.start_job(pg_temp.id('o3'))$$,
  $$values ('scaffold'::text, pg_temp.id('o2'))$$,
  'starting the queued o3 gives the only free slot to the older o2');
select results_eq($$select pg_temp.status('o2'), pg_temp.status('o3')$$, $$values ('running', 'queued')$$,
  'o2 runs, o3 waits for the next slot');
select is_empty($$select * from public.start_job(pg_temp.id('o2'))$$, 'o2''s late start message does nothing');
select is_empty($$select * from public.start_job(pg_temp.id('o3'))$$,
  'o3''s duplicate start finds no slot and does nothing');
select public.claim_task(pg_temp.task(pg_temp.id('o1'), 'scaffold'));
select results_eq(
  $$select * from public.fail_task(pg_temp.task(pg_temp.id('o1'), 'scaffold'), 1, 'build_failed', 'x')$$,
  $$values ('start'::text, pg_temp.id('o3'), null::uuid, 0)$$, 'o1 ending hands its slot to o3');
select results_eq($$select kind, job_id from public.start_job(pg_temp.id('o3'))$$,
  $$values ('scaffold'::text, pg_temp.id('o3'))$$, 'and o3 starts');

-- Two free slots and two queued jobs whose start messages were lost: the newer one's start message (or
-- the sweeper's) starts both, older first.
select pg_temp.remember('both', gen_random_uuid());
select pg_temp.submit_jobs('both', 'b', 2);
select pg_temp.become_service();
select results_eq($$select kind, job_id from public.start_job(pg_temp.id('b2'))$$,
  $$values ('scaffold'::text, pg_temp.id('b1')), ('scaffold', pg_temp.id('b2'))$$,
  'with two slots free, starting b2 starts the older b1 and b2');
select results_eq(
  $$select from_status::text, to_status::text, reason from public.app_generation_job_events
    where job_id in (pg_temp.id('b1'), pg_temp.id('b2')) and to_status = 'running' order by id$$,
  $$values ('queued'::text, 'running'::text, 'slot available'::text), ('queued', 'running', 'slot available')$$,
  'each start is recorded with its reason');

-- ---------------------------------------------------------------------------------------------
-- Jobs that are not queued
-- ---------------------------------------------------------------------------------------------
select pg_temp.remember('gone', gen_random_uuid());
select pg_temp.submit_jobs('gone', 'g', 2);
select pg_temp.become(pg_temp.id('gone'));
select public.cancel_job(pg_temp.id('g1'));
select pg_temp.become_service();
select is_empty($$select * from public.start_job(pg_temp.id('g1'))$$,
  'a cancelled job''s start starts nothing, not even the queued g2');
select is(pg_temp.status('g2'), 'queued', 'g2 waits for its own start');
select is_empty($$select * from public.start_job(gen_random_uuid())$$, 'an unknown job''s start does nothing');

select * from finish();
rollback;
