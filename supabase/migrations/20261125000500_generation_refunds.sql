-- appgen: a step that kept failing because a service it needs (storage, the queue) was away is not the
-- user's doing: such a failed job is refunded like the other outages.

create or replace function public.app_generation_refunded(j public.app_generation_jobs) returns boolean
language sql immutable
set search_path = ''
as $$
  select (j.status = 'failed' and j.error_code in (
            'internal', 'timeout', 'agent_quota', 'model_unavailable', 'agent_auth', 'agent_config',
            'dispatch_failed', 'storage_failed', 'dependency_unavailable'))
      or j.status = 'cancelled'
$$;
