-- Every RPC's happy path and every error code it raises (SQLSTATEs AGNF0 not found, AGIT0 illegal
-- transition, AGQT0 daily quota, AGIK0 idempotency conflict, AGIV0 invalid input, AGNR0 not ready,
-- AGEX0 expired). Users call as `authenticated` with their claims, workers as `service_role`; setup that
-- needs to bend time (backdating rows) runs as the session user between the two.
begin;
create extension if not exists pgtap;
select plan(125);

\ir helpers.psql

-- Users and projects.
select set_config('test.u1', 'c0000000-0000-4000-8000-000000000001', true);
select set_config('test.u2', 'c0000000-0000-4000-8000-000000000002', true);
select set_config('test.u3', 'c0000000-0000-4000-8000-000000000003', true);
select set_config('test.p1', 'd0000000-0000-4000-8000-000000000001', true);
select set_config('test.p3', 'd0000000-0000-4000-8000-000000000003', true);

-- =============================================================================================
-- submit_job
-- =============================================================================================
select pg_temp.become(pg_temp.id('u1'));
select pg_temp.remember('j1', job_id), pg_temp.remember('j1_created', case when created then job_id end)
from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 3), 'key-1');

select is(pg_temp.id('j1_created'), pg_temp.id('j1'), 'submit_job creates a job and says so');
select results_eq(
  $$select owner_id, project_id, status::text, stage, page_count, page_parallelism, idempotency_key, spec_hash
    from public.app_generation_jobs where id = pg_temp.id('j1')$$,
  $$values (pg_temp.id('u1'), pg_temp.id('p1'), 'queued', 'queued', 3, 3, 'key-1'::text,
            encode(sha256(convert_to(pg_temp.spec(pg_temp.id('p1'), 3)::text, 'UTF8')), 'hex'))$$,
  'the job is queued, owned by the caller, with page count, window and spec hash');
select results_eq(
  $$select owner_id, generation_spec from public.app_generation_job_specs where job_id = pg_temp.id('j1')$$,
  $$values (pg_temp.id('u1'), pg_temp.spec(pg_temp.id('p1'), 3))$$,
  'the spec is stored apart from the job row (which Realtime publishes), owned by the caller');
select results_eq(
  $$select from_status::text, to_status::text, actor from public.app_generation_job_events where job_id = pg_temp.id('j1')$$,
  $$values (null::text, 'queued'::text, 'c0000000-0000-4000-8000-000000000001'::text)$$,
  'the first status is recorded as an event by the submitting user');
select is((select owner_id from public.app_generation_projects where project_id = pg_temp.id('p1')), pg_temp.id('u1'),
  'the first user to generate for a project owns it');
select results_eq(
  $$select job_id, created from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 3), 'key-1')$$,
  $$values (pg_temp.id('j1'), false)$$, 'the same key and spec return the same job, not created');
select throws_ok($$select public.submit_job(pg_temp.spec(pg_temp.id('p1'), 2), 'key-1')$$,
  'AGIK0', 'Idempotency-Key was already used with a different spec', 'the same key with another spec is a conflict');
select throws_ok($$select public.submit_job(jsonb_set(pg_temp.spec(pg_temp.id('p1'), 1), '{projectId}', '"nope"'))$$,
  'AGIV0', 'projectId: is not a uuid', 'a projectId that is not a uuid is invalid');
select throws_ok($$select public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1) - 'projectId')$$,
  'AGIV0', 'projectId: is required', 'a spec without projectId is invalid');
select throws_ok($$select public.submit_job(jsonb_set(pg_temp.spec(pg_temp.id('p1'), 1), '{pages}', '[]'))$$,
  'AGIV0', 'pages: needs at least one page', 'a spec without pages is invalid');
select pg_temp.remember('six', (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 6))));
select is((select page_parallelism from public.app_generation_jobs where id = pg_temp.id('six')), 4,
  'page parallelism is min(page_count, 4)');
select is((select count(*)::integer from public.app_generation_jobs), 2, 'the caller now has two jobs');

select pg_temp.become(pg_temp.id('u2'));
select throws_ok($$select public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1))$$,
  'AGNF0', 'project not found', 'another user''s project is not found');
select throws_ok($$select public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1), 'key-1')$$,
  'AGNF0', 'project not found', 'idempotency keys are per user: u2''s key-1 is not u1''s');
select pg_temp.become_service();
select throws_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$,
  'AGNF0', 'not signed in', 'submit_job needs a signed-in user');
reset role;
-- The extra 6-page job of u1 is not needed below.
delete from public.app_generation_jobs where owner_id = pg_temp.id('u1') and id <> pg_temp.id('j1');

-- =============================================================================================
-- Daily quota: 5 per user over a rolling 24 h; refunds; the hint says when the next slot opens
-- =============================================================================================
select pg_temp.become(pg_temp.id('u2'));
do $$
begin
  for i in 1..5 loop
    perform pg_temp.remember('q' || i, (select job_id from public.submit_job(pg_temp.spec(gen_random_uuid(), 1))));
  end loop;
end
$$;
-- Within one transaction now() never moves: give the jobs distinct submission times, q1 oldest.
reset role;
update public.app_generation_jobs set created_at = now() - make_interval(mins => 10 - i)
from generate_series(1, 5) i where id = pg_temp.id('q' || i);
select pg_temp.become(pg_temp.id('u2'));
select throws_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$,
  'AGQT0', 'daily limit of 5 generation jobs reached', 'the sixth job in 24 h is refused');
select ok((pg_temp.error_of($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$) ->> 'hint')::integer
          between 85800 and 85860,
  'the hint says when the next slot opens: 24 h after the oldest counted job (9 min old)');
reset role;
update public.app_generation_jobs set created_at = now() - interval '23 hours' where id = pg_temp.id('q1');
select pg_temp.become(pg_temp.id('u2'));
select ok((pg_temp.error_of($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$) ->> 'hint')::integer
          between 3540 and 3600,
  'the hint counts from the oldest counted job: 1 h when it is 23 h old');
reset role;
update public.app_generation_jobs set created_at = now() - interval '25 hours' where id = pg_temp.id('q1');
select pg_temp.become(pg_temp.id('u2'));
select lives_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$,
  'a job older than 24 h frees its slot (rolling window)');
select throws_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$, 'AGQT0', null,
  'and the next one is refused again');

reset role;
select pg_temp.become_service();
select public.app_generation_fail_job(pg_temp.id('q2'), 'model_unavailable', 'model down');
select pg_temp.become(pg_temp.id('u2'));
select lives_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$,
  'a job that failed for our reasons (model_unavailable) is refunded');
select public.cancel_job(pg_temp.id('q3'));
select lives_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$,
  'a job cancelled before it ran is refunded');
select public.cancel_job(pg_temp.id('q1'));  -- out of the window already; q4 is now the oldest queued
select pg_temp.become_service();
select is((select job_id from public.start_job(pg_temp.id('q4'))), pg_temp.id('q4'), 'control: q4 starts');
select public.app_generation_fail_job(pg_temp.id('q5'), 'build_failed', 'TS2322');
select pg_temp.become(pg_temp.id('u2'));
select public.cancel_job(pg_temp.id('q4'));
-- Once agents ran, the spend is real: a cancel no longer gives the slot back (it did until 2026-12-01).
select throws_ok($$select public.submit_job(pg_temp.spec(gen_random_uuid(), 1))$$, 'AGQT0', null,
  'a job cancelled after it started still counts: its agents ran');
reset role;
select results_eq(
  $$select j.id, public.app_generation_refunded(j) from public.app_generation_jobs j
    where j.id in (pg_temp.id('q3'), pg_temp.id('q4'), pg_temp.id('q5')) order by j.created_at$$,
  $$values (pg_temp.id('q3'), true), (pg_temp.id('q4'), false), (pg_temp.id('q5'), false)$$,
  'refunded: cancelled while queued (q3); counted: cancelled after it started (q4), failed for the user''s reasons (build_failed, q5)');

-- =============================================================================================
-- start_job: a running slot; at most 2 per owner; the third waits queued
-- =============================================================================================
select pg_temp.become_service();

select results_eq($$select kind, job_id, task_id is not null, delay_seconds from public.start_job(pg_temp.id('j1'))$$,
  $$values ('scaffold'::text, pg_temp.id('j1'), true, 0)$$, 'start_job starts the job and dispatches its scaffold');
select results_eq(
  $$select status::text, stage, attempt_count, started_at = now(), deadline_at - started_at
    from public.app_generation_jobs where id = pg_temp.id('j1')$$,
  $$values ('running'::text, 'scaffold'::text, 1, true, interval '45 minutes')$$,
  'the job is running with a 45-minute deadline from its start');
select results_eq(
  $$select from_status::text, to_status::text, reason from public.app_generation_job_events
    where job_id = pg_temp.id('j1') order by id desc limit 1$$,
  $$values ('queued'::text, 'running'::text, 'slot available'::text)$$, 'the start is recorded with its reason');
select is_empty($$select * from public.start_job(pg_temp.id('j1'))$$, 'starting a running job again does nothing');
select is_empty($$select * from public.start_job(gen_random_uuid())$$, 'starting an unknown job does nothing');

select pg_temp.become(pg_temp.id('u1'));
select pg_temp.remember('j2', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1))));
select pg_temp.remember('j3', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1))));
reset role;  -- distinct submission times: jobs of one owner start oldest first
update public.app_generation_jobs set created_at = now() - make_interval(mins => m)
from (values ('j1', 3), ('j2', 2), ('j3', 1)) v(name, m) where id = pg_temp.id(name);
select pg_temp.become_service();
select is((select count(*)::integer from public.start_job(pg_temp.id('j2'))), 1, 'a second job of the owner starts');
select is_empty($$select * from public.start_job(pg_temp.id('j3'))$$, 'a third job of the owner waits');
select is((select status::text from public.app_generation_jobs where id = pg_temp.id('j3')), 'queued',
  'and stays queued');

-- =============================================================================================
-- claim_task / finish_task: leases, attempts, stale and duplicate deliveries, the pipeline
-- =============================================================================================
select pg_temp.remember('scaffold', pg_temp.task(pg_temp.id('j1'), 'scaffold'));
select results_eq(
  $$select task_id, job_id, owner_id, project_id, kind, key, attempt, fix_round, max_fix_rounds,
           deadline_at = now() + interval '45 minutes', generation_spec = pg_temp.spec(pg_temp.id('p1'), 3), inputs
    from public.claim_task(pg_temp.id('scaffold'), 60)$$,
  $$values (pg_temp.id('scaffold'), pg_temp.id('j1'), pg_temp.id('u1'), pg_temp.id('p1'), 'scaffold'::text, ''::text,
            1, 0, 4, true, true, '{}'::jsonb)$$,
  'claim_task hands out the task with its job''s spec, budget and deadline (attempt 1)');
select is((select lease_expires_at from public.app_generation_tasks where id = pg_temp.id('scaffold')),
  now() + interval '60 seconds', 'the claim holds a lease');
select is_empty($$select * from public.claim_task(pg_temp.id('scaffold'))$$,
  'a second delivery while the lease is live gets nothing');
reset role;
update public.app_generation_tasks set lease_expires_at = now() - interval '1 second' where id = pg_temp.id('scaffold');
select pg_temp.become_service();
select is((select attempt from public.claim_task(pg_temp.id('scaffold'))), 2,
  'an expired lease is taken over with the next attempt');
select is_empty($$select * from public.finish_task(pg_temp.id('scaffold'), 1)$$,
  'a report from the superseded attempt is ignored');
select is((select status::text from public.app_generation_tasks where id = pg_temp.id('scaffold')), 'running',
  'and changes nothing');
select results_eq($$select kind, count(*)::integer from public.finish_task(pg_temp.id('scaffold'), 2) group by kind$$,
  $$values ('page'::text, 3)$$, 'finishing the scaffold dispatches every page (3 < window of 4)');
select is_empty($$select * from public.finish_task(pg_temp.id('scaffold'), 2)$$, 'a duplicate finish is a no-op');
select is_empty($$select * from public.claim_task(pg_temp.id('scaffold'))$$, 'a finished task cannot be claimed');
select is_empty($$select * from public.claim_task(gen_random_uuid())$$, 'an unknown task cannot be claimed');
select is_empty($$select * from public.finish_task(gen_random_uuid(), 1)$$, 'an unknown task cannot be finished');

select is_empty($$select * from pg_temp.run(pg_temp.id('j1'), 'page')$$, 'the first page finishing starts nothing');
select is_empty($$select * from pg_temp.run(pg_temp.id('j1'), 'page')$$, 'nor the second');
select results_eq($$select kind from pg_temp.run(pg_temp.id('j1'), 'page')$$, $$values ('integrate'::text)$$,
  'the last page starts integration');
select is((select stage from public.app_generation_jobs where id = pg_temp.id('j1')), 'integrate',
  'the job is at the integrate stage');
select results_eq($$select kind from pg_temp.run(pg_temp.id('j1'), 'integrate')$$, $$values ('validate'::text)$$,
  'integration is followed by validation round 0');
select results_eq(
  $$select kind from pg_temp.run(pg_temp.id('j1'), 'validate', '{"outcome": "failed", "signature": "s1"}')$$,
  $$values ('fix'::text)$$, 'a failed validation starts fix round 1');
select results_eq(
  $$select status::text, stage, fix_round from public.app_generation_jobs where id = pg_temp.id('j1')$$,
  $$values ('fixing'::text, 'fix'::text, 1)$$, 'the job is fixing, round 1');
select is((select inputs from public.claim_task(pg_temp.task(pg_temp.id('j1'), 'fix'))),
  '{"failure": {"outcome": "failed", "signature": "s1"}, "previousFix": null}'::jsonb,
  'the fix task receives the failure of the validation before it');
select results_eq(
  $$select kind from public.finish_task(pg_temp.task(pg_temp.id('j1'), 'fix'), 1, '{"diff": "d1"}')$$,
  $$values ('validate'::text)$$, 'a fix is validated again');
select results_eq($$select kind from pg_temp.run(pg_temp.id('j1'), 'validate', '{"outcome": "passed"}')$$,
  $$values ('package'::text)$$, 'a passed validation packages');
select is((select c.attempt from public.claim_task(pg_temp.task(pg_temp.id('j1'), 'package')) c), 1,
  'the package task is claimed');
select throws_ok($$select public.finish_task(pg_temp.task(pg_temp.id('j1'), 'package'), 1)$$, 'AGIV0', null,
  'a package task cannot finish without its artifact');
select lives_ok(
  $$select public.record_artifact(pg_temp.id('j1'), 'generated-apps', 'u1/p1/j1/app.zip', 1234, repeat('b', 64))$$,
  'record_artifact stores the artifact of a running job');
select results_eq($$select * from public.finish_task(pg_temp.task(pg_temp.id('j1'), 'package'), 1, '{}', 7, 3)$$,
  $$values ('start'::text, pg_temp.id('j3'), null::uuid, 0)$$,
  'finishing the job hands its slot to the owner''s next queued job');
select results_eq(
  $$select status::text, stage, finished_at = now(), tokens_input, tokens_output
    from public.app_generation_jobs where id = pg_temp.id('j1')$$,
  $$values ('completed'::text, 'done'::text, true, 67::bigint, 33::bigint)$$,
  'the job completed, with its finish time and the token totals of its tasks');
select results_eq(
  $$select from_status::text, to_status::text, reason from public.app_generation_job_events
    where job_id = pg_temp.id('j1') order by id$$,
  $$values (null, 'queued', null), ('queued', 'running', 'slot available'),
           ('running', 'fixing', 'validation failed (round 0)'), ('fixing', 'completed', 'artifact stored')$$,
  'every transition of the job is one event, with its reason');
select is(public.job_is_active(pg_temp.id('j1')), false, 'a completed job is not active');
select is(public.job_is_active(pg_temp.id('j2')), true, 'a running job is active');

-- The page window: 6 pages go out 4 at a time, the next one as each finishes.
select pg_temp.become(pg_temp.id('u3'));
select pg_temp.remember('wide', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p3'), 6))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('wide'));
select is((select count(*)::integer from pg_temp.run(pg_temp.id('wide'), 'scaffold')), 4,
  'a 6-page job dispatches 4 pages first');
select results_eq(
  $$select t.key from pg_temp.run(pg_temp.id('wide'), 'page') d join public.app_generation_tasks t on t.id = d.task_id$$,
  $$values ('page-5'::text)$$, 'a finished page releases the next one, in spec order');

-- =============================================================================================
-- fail_task: transient failures back off 20 / 60 / 180 s, then fail the job; permanent ones fail it
-- =============================================================================================
select pg_temp.remember('j2_scaffold', pg_temp.task(pg_temp.id('j2'), 'scaffold'));
select public.claim_task(pg_temp.id('j2_scaffold'));
select results_eq(
  $$select kind, task_id, delay_seconds from public.fail_task(pg_temp.id('j2_scaffold'), 1, 'agent_quota', '429')$$,
  $$values ('scaffold'::text, pg_temp.id('j2_scaffold'), 20)$$, 'the first transient failure retries in 20 s');
select results_eq(
  $$select status::text, not_before - now(), error_code from public.app_generation_tasks where id = pg_temp.id('j2_scaffold')$$,
  $$values ('pending'::text, interval '20 seconds', 'agent_quota'::text)$$, 'the task waits, pending');
select is_empty($$select * from public.claim_task(pg_temp.id('j2_scaffold'))$$, 'it cannot be claimed before it is due');
select is_empty($$select * from public.fail_task(pg_temp.id('j2_scaffold'), 1, 'agent_quota', 'late')$$,
  'a stale failure report is ignored');
reset role;
update public.app_generation_tasks set not_before = now() where id = pg_temp.id('j2_scaffold');
select pg_temp.become_service();
select is((select c.attempt from public.claim_task(pg_temp.id('j2_scaffold')) c), 2, 'once due it is claimed again');
select is((select delay_seconds from public.fail_task(pg_temp.id('j2_scaffold'), 2, 'agent_quota', '429')), 60,
  'the second transient failure retries in 60 s');
reset role;
update public.app_generation_tasks set not_before = now() where id = pg_temp.id('j2_scaffold');
select pg_temp.become_service();
select public.claim_task(pg_temp.id('j2_scaffold'));
select is((select delay_seconds from public.fail_task(pg_temp.id('j2_scaffold'), 3, 'agent_quota', '429')), 180,
  'the third transient failure retries in 180 s');
reset role;
update public.app_generation_tasks set not_before = now() where id = pg_temp.id('j2_scaffold');
select pg_temp.become_service();
select public.claim_task(pg_temp.id('j2_scaffold'));
select results_eq(
  $$select * from public.fail_task(pg_temp.id('j2_scaffold'), 4, 'agent_quota', 'model said 429')$$,
  $$values ('start'::text, pg_temp.id('j3'), null::uuid, 0)$$,
  'the fourth gives up, fails the job and hands its slot to the next queued job');
select results_eq(
  $$select status::text, error_code, error_message from public.app_generation_jobs where id = pg_temp.id('j2')$$,
  $$values ('failed'::text, 'agent_quota'::text, 'model said 429 (gave up after 4 attempts)'::text)$$,
  'the job failed with the task''s error');
select is((select status::text from public.app_generation_tasks where id = pg_temp.id('j2_scaffold')), 'failed',
  'the task failed');

select public.start_job(pg_temp.id('j3'));
select public.claim_task(pg_temp.task(pg_temp.id('j3'), 'scaffold'));
select is_empty(
  $$select * from public.fail_task(pg_temp.task(pg_temp.id('j3'), 'scaffold'), 1, 'guardrail_violation', 'prisma')$$,
  'a permanent failure fails the job (nothing queued to start)');
select results_eq($$select status::text, error_code from public.app_generation_jobs where id = pg_temp.id('j3')$$,
  $$values ('failed'::text, 'guardrail_violation'::text)$$, 'with the task''s error code');

-- A claim by redelivery (the worker died, its lease lapsed) is no failure: the backoff counts only
-- transient failures, so the first one still waits 20 s, whatever the attempt number.
select pg_temp.remember('wide_page', pg_temp.task(pg_temp.id('wide'), 'page'));
select public.claim_task(pg_temp.id('wide_page'));
reset role;
update public.app_generation_tasks set lease_expires_at = now() - interval '1 second' where id = pg_temp.id('wide_page');
select pg_temp.become_service();
select is((select c.attempt from public.claim_task(pg_temp.id('wide_page')) c), 2,
  'a task whose worker died is claimed again');
select is((select delay_seconds from public.fail_task(pg_temp.id('wide_page'), 2, 'agent_quota', '429')), 20,
  'its first transient failure still waits 20 s');
select is((select transient_failures from public.app_generation_tasks where id = pg_temp.id('wide_page')), 1,
  'the task counts one transient failure');

-- =============================================================================================
-- add_job_warning, append_job_log, list_job_logs, get_job, list_jobs
-- =============================================================================================
select public.add_job_warning(pg_temp.id('wide'), 'npm_install_failed', 'npm install failed');
select public.add_job_warning(pg_temp.id('wide'), 'npm_install_failed', 'npm install failed');
select public.add_job_warning(pg_temp.id('wide'), 'lint_missing', 'no lint script');
select is((select warnings from public.app_generation_jobs where id = pg_temp.id('wide')),
  '[{"code": "npm_install_failed", "message": "npm install failed"}, {"code": "lint_missing", "message": "no lint script"}]'::jsonb,
  'add_job_warning adds each warning code once');

select isnt(public.append_job_log(pg_temp.id('wide'), null, 'info', 'pages', 'line 1'), null,
  'append_job_log returns the new line''s id');
select public.append_job_log(pg_temp.id('wide'), null, 'info', 'pages',
  'Bearer abcdefgh12345678 eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dX AIza' || repeat('x', 35) || ' postgres://me:secret@db/x');
select public.append_job_log(pg_temp.id('wide'), null, 'warning', 'pages', 'line 3');
select is(public.append_job_log(gen_random_uuid(), null, 'info', 'x', 'y'), null,
  'a line for an unknown job is not stored');
select throws_ok($$select public.append_job_log(pg_temp.id('wide'), null, 'loud', 'x', 'y')$$, '23514', null,
  'a log level outside the known ones is refused');

select pg_temp.become(pg_temp.id('u3'));
select results_eq(
  $$select level, message from public.list_job_logs(pg_temp.id('wide'), 0, 2)$$,
  $$values ('info'::text, 'line 1'::text),
           ('info', 'Bearer [REDACTED] [REDACTED] [REDACTED] postgres://me:[REDACTED]@db/x')$$,
  'list_job_logs returns the first page, redacted before insert');
select results_eq(
  $$select message from public.list_job_logs(pg_temp.id('wide'),
      (select max(id) from (select id from public.list_job_logs(pg_temp.id('wide'), 0, 2)) p), 2)$$,
  $$values ('line 3'::text)$$, 'and the next page after the cursor');
select results_eq(
  $$select status::text, stage, pages_done, pages_total, percent, jsonb_array_length(warnings)
    from public.get_job(pg_temp.id('wide'))$$,
  $$values ('running'::text, 'pages'::text, 1, 6, 18, 2)$$, 'get_job summarises the job''s progress');
select is((select array_agg(job_id) from public.list_jobs(pg_temp.id('p3'))), array[pg_temp.id('wide')],
  'list_jobs filters by project');
select is((select count(*)::integer from public.list_jobs(null, 0)), 1, 'list_jobs returns at least one row per page');
select is_empty($$select * from public.get_job(gen_random_uuid())$$, 'get_job of an unknown job returns nothing');

-- =============================================================================================
-- cancel_job
-- =============================================================================================
select pg_temp.become(pg_temp.id('u1'));
select pg_temp.remember('j4', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1))));
select pg_temp.become_service();
select public.start_job(pg_temp.id('j4'));
select pg_temp.become(pg_temp.id('u1'));
select is_empty($$select * from public.cancel_job(pg_temp.id('j4'))$$,
  'cancel_job stops the owner''s running job (nothing queued to start)');
select results_eq(
  $$select status::text, finished_at = now() from public.app_generation_jobs where id = pg_temp.id('j4')$$,
  $$values ('cancelled'::text, true)$$, 'the job is cancelled with its finish time');
select results_eq(
  $$select from_status::text, to_status::text, reason, actor from public.app_generation_job_events
    where job_id = pg_temp.id('j4') order by id desc limit 1$$,
  $$values ('running'::text, 'cancelled'::text, 'cancelled by owner'::text, 'c0000000-0000-4000-8000-000000000001'::text)$$,
  'the cancel is recorded with its reason and the owner as actor');
select is((select array_agg(distinct status::text) from public.app_generation_tasks where job_id = pg_temp.id('j4')),
  array['cancelled'], 'its open tasks are cancelled');
select throws_ok($$select public.cancel_job(pg_temp.id('j4'))$$, 'AGIT0', 'job already ended (cancelled)',
  'a job that ended cannot be cancelled');
select throws_ok($$select public.cancel_job(pg_temp.id('j1'))$$, 'AGIT0', 'job already ended (completed)',
  'nor a completed one');
select throws_ok($$select public.cancel_job(gen_random_uuid())$$, 'AGNF0', 'job not found', 'an unknown job is not found');
select pg_temp.become(pg_temp.id('u3'));
select throws_ok($$select public.cancel_job(pg_temp.id('j4'))$$, 'AGNF0', 'job not found',
  'another user''s job is not found');

-- =============================================================================================
-- request_download, record_artifact, retention (expire_old_artifacts, list/confirm deletion)
-- =============================================================================================
select pg_temp.become(pg_temp.id('u1'));
select results_eq($$select * from public.request_download(pg_temp.id('j1'))$$,
  $$values ('generated-apps'::text, 'u1/p1/j1/app.zip'::text, 1234::bigint, repeat('b', 64))$$,
  'request_download locates the artifact of a completed job');
select throws_ok($$select public.request_download(pg_temp.id('j4'))$$, 'AGNR0', null,
  'a cancelled job has no artifact');
select throws_ok($$select public.request_download(gen_random_uuid())$$, 'AGNF0', null, 'an unknown job is not found');
select pg_temp.become(pg_temp.id('u3'));
select throws_ok($$select public.request_download(pg_temp.id('j1'))$$, 'AGNF0', null,
  'another user''s job is not found');
select throws_ok($$select public.request_download(pg_temp.id('wide'))$$, 'AGNR0',
  'the job has no artifact yet (status running)', 'a running job has no artifact yet');

select pg_temp.become_service();
select throws_ok($$select public.record_artifact(pg_temp.id('j1'), 'b', 'p', 1, repeat('a', 64))$$, 'AGIT0', null,
  'record_artifact refuses a job that is not running');
select throws_ok(
  $$select public.record_artifact(pg_temp.id('wide'), 'b', 'p', 350 * 1024 * 1024 + 1, repeat('a', 64))$$,
  '23514', null, 'an artifact over 350 MB is refused');
select throws_ok($$select public.record_artifact(pg_temp.id('wide'), 'b', 'p', 1, 'not-a-sha256')$$, '23514', null,
  'an artifact needs a sha256 checksum');

-- Five completed jobs of project p1 besides j1, older artifacts first; the sixth artifact expires j1's.
reset role;
update public.app_generation_jobs set created_at = now() - interval '3 days' where owner_id = pg_temp.id('u1');
update public.app_generation_artifacts set created_at = now() - interval '10 hours' where job_id = pg_temp.id('j1');
do $$
declare
  v_job uuid;
begin
  for i in 1..5 loop
    perform pg_temp.become(pg_temp.id('u1'));
    select job_id into v_job from public.submit_job(pg_temp.spec(pg_temp.id('p1'), 1));
    perform pg_temp.become_service();
    perform public.start_job(v_job);
    perform pg_temp.run(v_job, 'scaffold');
    perform pg_temp.run(v_job, 'page');
    perform pg_temp.run(v_job, 'integrate');
    perform pg_temp.run(v_job, 'validate', '{"outcome": "passed"}');
    if i < 5 then
      perform pg_temp.run(v_job, 'package');
      reset role;
      update public.app_generation_artifacts set created_at = now() - make_interval(hours => 10 - i) where job_id = v_job;
      update public.app_generation_jobs set created_at = now() - interval '3 days' where id = v_job;
    else
      perform pg_temp.remember('j_last', v_job);
    end if;
  end loop;
end
$$;
select pg_temp.become_service();
select is((select count(*)::integer from public.app_generation_artifacts
           where project_id = pg_temp.id('p1') and delete_requested_at is null), 5,
  'control: five live artifacts in the project before the sixth');
select is_empty($$select * from public.list_artifacts_to_delete()$$, 'nothing awaits deletion yet');
select lives_ok(
  $$select public.record_artifact(pg_temp.id('j_last'), 'generated-apps', 'u1/p1/last/app.zip', 99, repeat('c', 64))$$,
  'the sixth artifact of the project is recorded');
select results_eq(
  $$select job_id, delete_requested_at = now(), deleted_at from public.app_generation_artifacts
    where project_id = pg_temp.id('p1') and delete_requested_at is not null$$,
  $$values (pg_temp.id('j1'), true, null::timestamptz)$$, 'the oldest artifact beyond the latest 5 is marked for deletion');
select results_eq(
  $$select status::text, (select reason from public.app_generation_job_events e where e.job_id = j.id order by id desc limit 1)
    from public.app_generation_jobs j where id = pg_temp.id('j1')$$,
  $$values ('expired'::text, 'retention: newer artifacts exist'::text)$$, 'and its job expired, with the reason');
select results_eq($$select bucket, path from public.list_artifacts_to_delete()$$,
  $$values ('generated-apps'::text, 'u1/p1/j1/app.zip'::text)$$, 'list_artifacts_to_delete returns its object');
select is(public.expire_old_artifacts(pg_temp.id('p1')), 0, 'expire_old_artifacts is idempotent');
select public.confirm_artifact_deleted((select artifact_id from public.list_artifacts_to_delete()));
select results_eq($$select deleted_at = now() from public.app_generation_artifacts where job_id = pg_temp.id('j1')$$,
  $$values (true)$$, 'confirm_artifact_deleted records the deletion, keeping the row');
select is_empty($$select * from public.list_artifacts_to_delete()$$, 'nothing awaits deletion any more');
select pg_temp.become(pg_temp.id('u1'));
select throws_ok($$select public.request_download(pg_temp.id('j1'))$$, 'AGEX0', 'the artifact of this job expired',
  'an expired job''s download is refused as expired');

-- =============================================================================================
-- fail_overdue_jobs: the sweeper ends jobs past their deadline and hands their slot on
-- =============================================================================================
reset role;
select pg_temp.remember('u9', gen_random_uuid());
select pg_temp.remember('p9', gen_random_uuid());
select pg_temp.become(pg_temp.id('u9'));
select pg_temp.remember('late', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p9'), 1))));
select pg_temp.remember('ontime', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p9'), 1))));
select pg_temp.remember('waiting', (select job_id from public.submit_job(pg_temp.spec(pg_temp.id('p9'), 1))));
reset role;
update public.app_generation_jobs set created_at = now() - make_interval(mins => m)
from (values ('late', 3), ('ontime', 2), ('waiting', 1)) v(name, m) where id = pg_temp.id(name);
select pg_temp.become_service();
select public.start_job(pg_temp.id('late'));
select public.start_job(pg_temp.id('ontime'));
reset role;
update public.app_generation_jobs set deadline_at = now() - interval '1 second' where id = pg_temp.id('late');
select pg_temp.become_service();
select results_eq($$select kind, job_id from public.fail_overdue_jobs()$$,
  $$values ('start'::text, pg_temp.id('waiting'))$$,
  'fail_overdue_jobs fails the overdue job and hands its slot to the next queued job');
select results_eq(
  $$select status::text, error_code, error_message from public.app_generation_jobs where id = pg_temp.id('late')$$,
  $$values ('failed'::text, 'timeout'::text, 'The job reached its 45-minute limit before it finished.'::text)$$,
  'the overdue job failed with code timeout and a reason its owner can read');
select is((select status::text from public.app_generation_tasks where job_id = pg_temp.id('late')), 'cancelled',
  'its open task was cancelled, so a late report is a no-op');
select is((select status::text from public.app_generation_jobs where id = pg_temp.id('ontime')), 'running',
  'a job within its deadline keeps running');
select ok((select public.app_generation_refunded(j) from public.app_generation_jobs j where j.id = pg_temp.id('late')),
  'a timed-out job does not count against the daily cap');
select is_empty($$select * from public.fail_overdue_jobs()$$, 'the sweep is idempotent');

-- =============================================================================================
-- The state machine guards every UPDATE, whoever makes it
-- =============================================================================================
reset role;
select throws_ok(format($$update public.app_generation_jobs set status = 'running' where id = %L$$, pg_temp.id('j1')),
  'AGIT0', null, 'expired -> running is refused by the trigger');
select throws_ok(format($$update public.app_generation_jobs set status = 'queued' where id = %L$$, pg_temp.id('wide')),
  'AGIT0', null, 'running -> queued is refused by the trigger');
select throws_ok(
  format($$update public.app_generation_jobs set status = 'failed', error_code = null where id = %L$$, pg_temp.id('wide')),
  '23514', null, 'a failed job needs an error code');
select throws_ok('update public.app_generation_logs set message = ''x''', 'AGIT0', 'app_generation_logs is append-only',
  'log lines cannot be rewritten');

select * from finish();
rollback;
