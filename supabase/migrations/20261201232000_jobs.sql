-- appgen: cancelling refunds the daily slot only while the job is still queued.
--
-- Every cancelled job used to be refunded (changelog 2026-11-25). But once a job has started, its agents
-- have run: the model spend is real whether or not the owner waits for the ZIP, and refunding it let a
-- user start jobs, cancel them just before packaging, and keep the generated work in scratch while the cap
-- never moved. A job cancelled while still queued cost nothing and stays refunded.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Quota refunds
-- ============================================================================================
-- A job is refunded (not counted against the daily cap) when its owner got nothing for it and it was not
-- the owner's doing: it was cancelled before it started (started_at is stamped by the queued -> running
-- transition, so it tells whether agents ran), or it failed with an error code the error-code table marks
-- as refunded.
create or replace function public.app_generation_refunded(j public.app_generation_jobs) returns boolean
language sql stable
set search_path = ''
as $$
  select (j.status = 'cancelled' and j.started_at is null)
      or (j.status = 'failed'
          and exists (select 1 from public.app_generation_error_codes c
                      where c.code = j.error_code and c.refunded))
$$;
