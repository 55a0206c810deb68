-- Row level security per role: what anon, the owner, a stranger and the service role can see and change.
--
-- Alice owns a completed job (with tasks, events, a log line and an artifact) and a queued one; Bob owns a
-- completed job. Each role is entered the way PostgREST enters it: `set local role` plus the JWT claims.
begin;
create extension if not exists pgtap;
select plan(80);

\ir helpers.psql

-- Runs a job of `owner` through every step to completed, as the workers would (service role).
create function pg_temp.completed_job(p_owner uuid, p_project uuid) returns uuid
language plpgsql as $$
declare
  v_job uuid;
  v_task uuid;
  v_claim record;
begin
  perform set_config('request.jwt.claims', json_build_object('sub', p_owner, 'role', 'authenticated')::text, true);
  select job_id into v_job from public.submit_job(pg_temp.spec(p_project, 1));
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  perform public.start_job(v_job);
  loop
    select t.id into v_task from public.app_generation_tasks t
    where t.job_id = v_job and t.status = 'pending' and t.dispatched_at is not null
    order by t.created_at limit 1;
    exit when not found;
    select c.attempt, c.kind into v_claim from public.claim_task(v_task) c;
    if v_claim.kind = 'package' then
      perform public.record_artifact(v_job, 'generated-apps', format('%s/%s/%s/app.zip', p_owner, p_project, v_job),
                                     1234, repeat('a', 64));
    end if;
    perform public.finish_task(v_task, v_claim.attempt, '{"outcome": "passed"}');
  end loop;
  perform public.append_job_log(v_job, null, 'info', 'done', 'hello from ' || p_owner);
  return v_job;
end;
$$;

do $$
declare
  v_alice constant uuid := 'a11ce000-0000-4000-8000-000000000001';
  v_bob constant uuid := 'b0b00000-0000-4000-8000-000000000002';
begin
  perform set_config('test.alice_done', pg_temp.completed_job(v_alice, 'a11ce000-0000-4000-8000-00000000000a')::text, true);
  perform set_config('test.bob_done', pg_temp.completed_job(v_bob, 'b0b00000-0000-4000-8000-00000000000b')::text, true);
  perform set_config('request.jwt.claims', json_build_object('sub', v_alice, 'role', 'authenticated')::text, true);
  perform set_config('test.alice_queued', (select job_id from public.submit_job(
    pg_temp.spec('a11ce000-0000-4000-8000-00000000000a', 1)))::text, true);
  perform set_config('request.jwt.claims', '', true);
end
$$;

select is((select status::text from public.app_generation_jobs where id = current_setting('test.alice_done')::uuid),
  'completed', 'setup: alice''s first job completed');

-- ---------------------------------------------------------------------------------------------
-- anon: reads nothing, writes nothing, calls nothing
-- ---------------------------------------------------------------------------------------------
set local role anon;
set local "request.jwt.claims" to '{"role": "anon"}';

select throws_ok('select 1 from public.' || t, '42501', null, 'anon cannot read ' || t)
from unnest(array['app_generation_jobs', 'app_generation_job_specs', 'app_generation_job_events',
                  'app_generation_tasks', 'app_generation_artifacts', 'app_generation_logs',
                  'app_generation_projects']) t;
select throws_ok('select 1 from public.app_generation_job_summaries', '42501', null, 'anon cannot read summaries');
select throws_ok($$select public.submit_job('{}')$$, '42501', null, 'anon cannot submit');
select throws_ok($$select public.get_job(gen_random_uuid())$$, '42501', null, 'anon cannot call get_job');
select throws_ok(
  $$insert into public.app_generation_jobs (owner_id, project_id, spec_hash, page_count, page_parallelism)
    values (gen_random_uuid(), gen_random_uuid(), 'x', 1, 1)$$,
  '42501', null, 'anon cannot insert a job');

reset role;

-- ---------------------------------------------------------------------------------------------
-- authenticated as the owner: reads exactly her rows, writes only through RPCs
-- ---------------------------------------------------------------------------------------------
set local role authenticated;
set local "request.jwt.claims" to '{"sub": "a11ce000-0000-4000-8000-000000000001", "role": "authenticated"}';

select is((select count(*)::integer from public.app_generation_jobs), 2, 'alice sees her two jobs');
select is((select count(*)::integer from public.app_generation_job_specs), 2, 'alice sees the specs of her two jobs');
select is((select count(*)::integer from public.app_generation_job_events), 4, 'alice sees the 4 events of her jobs (3 + 1)');
select is((select count(*)::integer from public.app_generation_tasks), 5, 'alice sees the 5 tasks of her job');
select is((select count(*)::integer from public.app_generation_artifacts), 1, 'alice sees her artifact');
select is((select count(*)::integer from public.app_generation_logs), 1, 'alice sees her log line');
select is((select count(*)::integer from public.app_generation_projects), 1, 'alice sees her project');
select is((select count(*)::integer from public.app_generation_job_summaries), 2, 'alice sees her two summaries');
select is((select count(*)::integer from public.list_jobs()), 2, 'list_jobs returns her two jobs');
select is((select status::text from public.get_job(current_setting('test.alice_done')::uuid)), 'completed',
  'get_job returns her job');
select is((select message from public.list_job_logs(current_setting('test.alice_done')::uuid)),
  'hello from a11ce000-0000-4000-8000-000000000001', 'list_job_logs returns her log');
select is((select path from public.request_download(current_setting('test.alice_done')::uuid)),
  format('a11ce000-0000-4000-8000-000000000001/a11ce000-0000-4000-8000-00000000000a/%s/app.zip',
         current_setting('test.alice_done')), 'request_download locates her artifact');

-- Every direct write to every table is refused, whatever the row.
select throws_ok(format(s, t), '42501', null, format('alice cannot %s', format(s, t)))
from unnest(array['app_generation_jobs', 'app_generation_job_specs', 'app_generation_job_events',
                  'app_generation_tasks', 'app_generation_artifacts', 'app_generation_logs',
                  'app_generation_projects']) t
cross join unnest(array['update public.%s set owner_id = owner_id', 'delete from public.%s',
                        'truncate public.%s']) s;
select throws_ok(
  $$insert into public.app_generation_logs (job_id, owner_id, level, stage, message)
    select id, owner_id, 'info', 'x', 'forged' from public.app_generation_jobs$$,
  '42501', null, 'alice cannot forge a log line');

-- Worker RPCs are the service role's.
select throws_ok('select ' || f, '42501', null, 'alice cannot call ' || split_part(f, '(', 1))
from unnest(array[
  'public.start_job(gen_random_uuid())', 'public.claim_task(gen_random_uuid())',
  'public.finish_task(gen_random_uuid(), 1)', 'public.fail_task(gen_random_uuid(), 1, ''x'', ''y'')',
  'public.job_is_active(gen_random_uuid())', 'public.add_job_warning(gen_random_uuid(), ''x'', ''y'')',
  'public.record_artifact(gen_random_uuid(), ''b'', ''p'', 1, ''c'')',
  'public.expire_old_artifacts(gen_random_uuid())', 'public.list_artifacts_to_delete()',
  'public.confirm_artifact_deleted(gen_random_uuid())',
  'public.append_job_log(gen_random_uuid(), null, ''info'', ''s'', ''m'')',
  'public.app_generation_fail_job(gen_random_uuid(), ''x'', ''y'')',
  'public.app_generation_claim_project(gen_random_uuid(), gen_random_uuid())']) f;

reset role;

-- ---------------------------------------------------------------------------------------------
-- authenticated as a stranger: none of alice's rows, through tables or RPCs
-- ---------------------------------------------------------------------------------------------
set local role authenticated;
set local "request.jwt.claims" to '{"sub": "b0b00000-0000-4000-8000-000000000002", "role": "authenticated"}';

select is(
  array(select t from unnest(array['app_generation_jobs', 'app_generation_job_specs', 'app_generation_job_events',
                                   'app_generation_tasks', 'app_generation_artifacts', 'app_generation_logs',
                                   'app_generation_projects',
                                   'app_generation_job_summaries']) t
        where (xpath('/row/n/text()', query_to_xml(
                 format('select count(*) as n from public.%I where owner_id <> %L', t, (select auth.uid())),
                 false, true, '')))[1]::text::integer > 0),
  '{}'::text[], 'bob sees no row of anyone else in any table or the summaries view');
select is((select count(*)::integer from public.app_generation_jobs), 1, 'bob sees his own job');
select is((select count(*)::integer from public.app_generation_artifacts), 1, 'bob sees his own artifact');
select is_empty(format('select * from public.get_job(%L)', current_setting('test.alice_done')),
  'get_job of alice''s job returns nothing to bob');
select is_empty(format('select * from public.list_job_logs(%L)', current_setting('test.alice_done')),
  'list_job_logs of alice''s job returns nothing to bob');
select throws_ok(format('select public.cancel_job(%L)', current_setting('test.alice_queued')), 'AGNF0', null,
  'bob cannot cancel alice''s job');
select throws_ok(format('select public.request_download(%L)', current_setting('test.alice_done')), 'AGNF0', null,
  'bob cannot download alice''s artifact');
select throws_ok(
  $$select public.submit_job(pg_temp.spec('a11ce000-0000-4000-8000-00000000000a', 1))$$,
  'AGNF0', null, 'bob cannot generate for alice''s project');
select throws_ok(format('update public.app_generation_jobs set status = ''cancelled'' where id = %L',
                        current_setting('test.alice_queued')), '42501', null, 'bob cannot update alice''s job');
select throws_ok(format('delete from public.app_generation_artifacts where job_id = %L',
                        current_setting('test.alice_done')), '42501', null, 'bob cannot delete alice''s artifact');

-- Signed in without a subject: auth.uid() is null, so nothing matches.
set local "request.jwt.claims" to '{"role": "authenticated"}';
select is_empty('select 1 from public.app_generation_jobs', 'a token without sub sees no jobs');
select throws_ok($$select public.submit_job('{"projectId": "a11ce000-0000-4000-8000-00000000000a", "pages": [{}]}')$$,
  'AGNF0', null, 'a token without sub cannot submit');

reset role;

-- ---------------------------------------------------------------------------------------------
-- service_role: the workers see and move everything (bypassrls), but logs stay append-only
-- ---------------------------------------------------------------------------------------------
set local role service_role;
set local "request.jwt.claims" to '{"role": "service_role"}';

select is((select count(distinct owner_id)::integer from public.app_generation_jobs), 2,
  'the service role sees every owner''s jobs');
select is((select count(*)::integer from public.app_generation_jobs), 3, 'the service role sees all three jobs');
select is((select count(*)::integer from public.app_generation_artifacts), 2, 'and both artifacts');
select is((select status::text from public.app_generation_jobs where id = current_setting('test.alice_queued')::uuid),
  'queued', 'alice''s queued job is untouched by bob''s attempts');
select is(public.job_is_active(current_setting('test.alice_queued')::uuid), false,
  'the service role calls worker RPCs (a queued job is not active)');
select throws_ok('update public.app_generation_logs set message = ''rewritten''', 'AGIT0', null,
  'not even the service role rewrites a log line');
select throws_ok('delete from public.app_generation_logs', '42501', null,
  'nor deletes one');
select throws_ok($$update public.app_generation_job_specs set generation_spec = '{}'$$, '42501', null,
  'the service role cannot rewrite a job''s spec (submit_job alone writes them)');
select throws_ok($$select public.submit_job('{"projectId": "a11ce000-0000-4000-8000-00000000000a", "pages": [{}]}')$$,
  'AGNF0', null, 'the service role has no user to submit as');

reset role;

select * from finish();
rollback;
