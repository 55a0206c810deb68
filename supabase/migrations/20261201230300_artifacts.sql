-- appgen: exact privileges on artifacts (see the policy migration of this batch, 20261201230000, for why).
--
-- Owners read their own artifact rows (RLS; the summaries view shows size and checksum); only
-- record_artifact, retention and the service role write them.
--
-- Error codes: none raised here.

revoke all on public.app_generation_artifacts from anon, authenticated;
grant select on public.app_generation_artifacts to authenticated;
