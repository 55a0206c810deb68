-- appgen: exact privileges on tasks (see 20261201230000_policy.sql for why).
--
-- Owners read the tasks of their own jobs (RLS; the summaries view counts finished pages from them);
-- only the task RPCs and the service role write them.
--
-- Error codes: none raised here.

revoke all on public.app_generation_tasks from anon, authenticated;
grant select on public.app_generation_tasks to authenticated;
