-- appgen: exact privileges on the policy's reference tables.
--
-- Supabase grants ALL on every new table in `public` to anon, authenticated and service_role (default
-- privileges; appgen/localstack/supabase_compat.sql mirrors them), so the first migrations' partial
-- revokes left anon and authenticated holding REFERENCES and TRIGGER. Each domain now states the complete
-- set instead: revoke everything, then grant back exactly what a role needs. The pgTAP schema test
-- asserts the complete set per role for every appgen table, sequence and function.
--
-- Error codes: none raised here.

-- ============================================================================================
-- Error codes: nobody but the service role reads them (the rules read them as definers)
-- ============================================================================================
revoke all on public.app_generation_error_codes from anon, authenticated;

-- ============================================================================================
-- Stages: signed-in users read them (the security-invoker summaries view computes progress from them)
-- ============================================================================================
revoke all on public.app_generation_stages from anon, authenticated;
grant select on public.app_generation_stages to authenticated;
