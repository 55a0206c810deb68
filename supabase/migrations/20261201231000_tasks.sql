-- appgen: start_job starts the job it was asked to start, never another one.
--
-- start_job(x) used to start its owner's oldest queued job whatever x was, so a duplicate start message
-- for a job already running (Cloud Tasks delivers at least once; the sweeper re-sends starts) took a
-- free slot for a different queued job. Now a start message counts only while x itself is queued.
--
-- Error codes: none raised here.

-- ============================================================================================
-- start_job: the orchestrator hands a queued job a running slot
-- ============================================================================================
-- Acts only while p_job_id is queued; for a job that is running, ended or unknown it does nothing, so a
-- duplicate or late start message cannot start anything else. While it is queued, the owner's free running
-- slots (the policy's running_jobs_per_user minus the jobs running or fixing) go to the owner's queued jobs
-- in submission order, up to and including p_job_id: a job submitted earlier whose own start message is
-- still on its way, or was lost, is never overtaken. Each started job goes queued -> running. When the
-- slots run out before p_job_id's turn, it stays queued and starts when a slot frees (the RPCs that end a
-- job return a 'start' for the owner's oldest queued job). Returns the scaffold step of each started job.
create or replace function public.start_job(p_job_id uuid)
returns setof public.app_generation_dispatch
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_owner uuid;
  v_next uuid;
begin
  select owner_id into v_owner from public.app_generation_jobs where id = p_job_id;
  if not found then
    return;
  end if;
  -- The per-user lock submit_job takes too: two start_job calls for two queued jobs of one user must not
  -- both count one running job and both start (the cap would be exceeded). The status is read again
  -- under the lock: a concurrent start of the same job may have started it meanwhile.
  perform pg_advisory_xact_lock(hashtextextended('appgen.user:' || v_owner::text, 0));
  if not exists (select 1 from public.app_generation_jobs where id = p_job_id and status = 'queued') then
    return;  -- already started, cancelled or failed: a duplicate start does nothing
  end if;

  perform public.app_generation_set_reason('slot available');
  loop
    select d.job_id into v_next from public.app_generation_next_queued(v_owner) d;
    exit when v_next is null;  -- no free slot: a finishing job hands it out
    update public.app_generation_jobs
    set status = 'running', stage = 'scaffold', attempt_count = attempt_count + 1
    where id = v_next and status = 'queued';
    if found then  -- (not found: its owner cancelled it this instant; the next one gets the slot)
      return query select * from public.app_generation_add_task(v_next, 'scaffold');
    end if;
    exit when v_next = p_job_id;
  end loop;
end;
$$;

revoke execute on function public.start_job(uuid) from public, anon, authenticated;
grant execute on function public.start_job(uuid) to service_role;
