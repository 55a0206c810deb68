-- appgen: exact privileges on job logs (see the policy migration of this batch, 20261201230000, for why).
--
-- Owners read the lines of their own jobs (RLS, through the security-invoker list_job_logs); only
-- append_job_log writes them. Nobody but append_job_log (as the table owner) draws from the identity
-- sequence, whose numbers are the cursor of the logs pages.
--
-- Error codes: none raised here.

revoke all on public.app_generation_logs from anon, authenticated;
grant select on public.app_generation_logs to authenticated;

revoke all on sequence public.app_generation_logs_id_seq from anon, authenticated;
