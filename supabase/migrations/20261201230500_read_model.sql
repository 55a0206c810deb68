-- appgen: exact privileges on the job summaries view (see the policy migration of this batch, 20261201230000, for why).
--
-- Signed-in users select from it (it runs as its caller, so RLS shows them their own jobs); nobody
-- writes through it, and anon does not see it at all.
--
-- Error codes: none raised here.

revoke all on public.app_generation_job_summaries from anon, authenticated;
grant select on public.app_generation_job_summaries to authenticated;
