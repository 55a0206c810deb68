-- appgen: tenant hardening of the jobs domain: exact privileges, cancelled jobs refunded only while
-- queued, the spec in its own (unpublished) table, and submit_job refusing what the API refuses.
--
-- Error codes: AGNF0, AGIK0, AGQT0, AGIV0 (submit_job; the message names the field path), AGAN0 (anonymous user).

-- ============================================================================================
-- Exact privileges on projects, jobs and job events
-- ============================================================================================
-- Owners read their own rows (RLS) and write nothing directly: submit_job and cancel_job are the only
-- ways in. anon holds nothing at all: before, it could select (RLS showed it no rows), reference the
-- tables from foreign keys of its own tables, create triggers on them, and draw numbers from the events'
-- identity sequence.

revoke all on public.app_generation_projects, public.app_generation_jobs, public.app_generation_job_events
  from anon, authenticated;
grant select on public.app_generation_projects, public.app_generation_jobs, public.app_generation_job_events
  to authenticated;

-- The identity sequence of the events: only the trigger (as the table owner) draws from it.
revoke all on sequence public.app_generation_job_events_id_seq from anon, authenticated;

-- ============================================================================================
-- Cancelling refunds the daily slot only while the job is queued
-- ============================================================================================
-- Every cancelled job used to be refunded (changelog 2026-11-25). But once a job has started, its agents
-- have run: the model spend is real whether or not the owner waits for the ZIP, and refunding it let a
-- user start jobs, cancel them just before packaging, and keep the generated work in scratch while the cap
-- never moved. A job cancelled while still queued cost nothing and stays refunded.

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

-- ============================================================================================
-- The spec moves to its own table, out of the row Realtime broadcasts
-- ============================================================================================
-- Jobs are in the `supabase_realtime` publication (20261201221100_jobs.sql) so that owners can follow
-- their job rows instead of polling. Every status, stage and progress change then shipped the whole
-- generation_spec, up to 2 MB of preview HTML, to every subscribed client, and through the WAL decoder
-- before RLS filtered it. The spec never changes after submit, and only the worker reads it: it now lives
-- in app_generation_job_specs, which is not published.
--
-- Why a table rather than a publication column list (`alter publication … add table jobs (id, …)`, PG 15+):
-- Supabase Realtime's Postgres Changes reads the WAL through wal2json (supabase/walrus,
-- `realtime.list_changes`), which takes the publication's table list as its `add-tables` filter but
-- ignores column lists, so the spec would still be on the wire. A separate table that is never published
-- keeps it off whatever the decoder, and keeps the job row small for every other reader too.

-- ============================================================================================
-- Job specs: the generation_spec of each job, written once by submit_job
-- ============================================================================================
create table public.app_generation_job_specs (
  job_id uuid primary key references public.app_generation_jobs (id) on delete cascade,
  owner_id uuid not null,
  generation_spec jsonb not null
);

comment on table public.app_generation_job_specs is
  'The spec of each job, apart from the job row so that Realtime does not broadcast it. Written only by submit_job.';

create index app_generation_job_specs_owner_idx on public.app_generation_job_specs (owner_id);

alter table public.app_generation_job_specs enable row level security;

create policy "Owners can read the specs of their own jobs" on public.app_generation_job_specs
  for select to authenticated using ((select auth.uid()) = owner_id);

-- Owners read their own specs; only submit_job (as the table owner) writes them. The service role reads
-- them (claim_task hands the spec to the worker as a definer anyway) but may not rewrite one: a job's
-- spec_hash, which idempotent replays compare, describes the spec as submitted.
revoke all on public.app_generation_job_specs from anon, authenticated, service_role;
grant select on public.app_generation_job_specs to authenticated, service_role;

insert into public.app_generation_job_specs (job_id, owner_id, generation_spec)
select id, owner_id, generation_spec from public.app_generation_jobs;

alter table public.app_generation_jobs drop column generation_spec;

-- ============================================================================================
-- submit_job refuses what the API refuses
-- ============================================================================================
-- Signed-in users can call submit_job straight through Supabase's REST API (PostgREST), past the HTTP
-- API's checks. It used to check only a projectId and the page count, so such a call could store a spec
-- the API would refuse (pages without ids or routes, 2 MB of HTML in one page, an anonymous user's job)
-- and the worker then crashed on it holding a running slot. Now submit_job checks the spec against the
-- same rules as appgen/spec.py, reading the same limits (app_generation_policy(), 20261201234000), and
-- refuses anonymous users like the API does.
--
-- The rules are checked on the spec as the API stores it (camelCase keys, whitespace stripped, defaults
-- optional), so every spec the API accepts passes here; a caller sending padded or snake_case values
-- straight to the RPC is refused where the API would have normalised them.
--
-- Stable error codes (SQLSTATE) that appgen maps to HTTP answers: AGIV0 invalid input (the message starts
-- with the field path of the first problem, e.g. `pages[1].route: …`; the DETAIL holds every problem as a
-- JSON array of {path, message}), AGAN0 anonymous user (new), and as before AGNF0, AGIK0, AGQT0.

-- ============================================================================================
-- The shape of a generation_spec (appgen/spec.py's rules, in SQL)
-- ============================================================================================

-- What Python's str.strip() removes: submit_job refuses a required text that is nothing else, like the
-- API (which strips, then requires at least one character) does.
create function public.app_generation_blank_pattern() returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select '^[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$'
$$;

-- The problems of one JSON object of a spec: keys outside p_keys and p_other_keys, and for each string
-- field p_keys[i]: missing when p_required[i], not a string, blank when p_nonblank[i], or longer than
-- p_max[i] characters (null: no limit). Paths are p_path's. Checks of the other keys are the caller's.
create function public.app_generation_spec_fields_problems(
  p_object jsonb, p_path text, p_keys text[], p_max integer[], p_required boolean[], p_nonblank boolean[],
  p_other_keys text[] default '{}'
) returns table (path text, message text)
language sql immutable
set search_path = ''
as $$
  select x.path, x.message from (
    select 0 as n, k as key, concat_ws('.', nullif(p_path, ''), k) as path, 'is not an allowed field' as message
    from jsonb_object_keys(p_object) k
    where k <> all (p_keys || p_other_keys)
    union all
    select f.n, f.key, concat_ws('.', nullif(p_path, ''), f.key), case
        when v.value is null then 'is required'
        when jsonb_typeof(v.value) <> 'string' then 'must be a string'
        when f.nonblank and (v.value #>> '{}') ~ public.app_generation_blank_pattern() then 'must not be empty'
        else format('is %s characters; at most %s are allowed', length(v.value #>> '{}'), f.max_chars)
      end
    from unnest(p_keys, p_max, p_required, p_nonblank) with ordinality f(key, max_chars, required, nonblank, n)
    cross join lateral (select p_object -> f.key as value) v
    where case
        when v.value is null then f.required
        when jsonb_typeof(v.value) <> 'string' then true
        else (f.nonblank and (v.value #>> '{}') ~ public.app_generation_blank_pattern())
             or length(v.value #>> '{}') > f.max_chars
      end
  ) x
  order by x.n, x.key
$$;

-- The problems of a list of the style (palette, typography): at most p_max_entries entries, each a
-- string of at most p_string_max characters or an object of exactly the string fields p_keys (required,
-- not blank, at most p_max[i] characters). Nothing when the list is absent (it is optional).
create function public.app_generation_spec_list_problems(
  p_list jsonb, p_path text, p_max_entries integer, p_string_max integer, p_keys text[], p_max integer[]
) returns table (path text, message text)
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_list is null then
    return;
  elsif jsonb_typeof(p_list) <> 'array' then
    path := p_path; message := 'must be a list'; return next;
  elsif jsonb_array_length(p_list) > p_max_entries then
    path := p_path;
    message := format('has %s entries; at most %s are allowed', jsonb_array_length(p_list), p_max_entries);
    return next;
  else
    for i in 0 .. jsonb_array_length(p_list) - 1 loop
      if jsonb_typeof(p_list -> i) = 'object' then
        return query select * from public.app_generation_spec_fields_problems(p_list -> i,
          format('%s[%s]', p_path, i), p_keys, p_max, array_fill(true, array[cardinality(p_keys)]),
          array_fill(true, array[cardinality(p_keys)]));
      else
        return query select format('%s[%s]', p_path, i), f.message
          from public.app_generation_spec_fields_problems(jsonb_build_object('entry', p_list -> i), '',
            array['entry'], array[p_string_max], array[true], array[false]) f;
      end if;
    end loop;
  end if;
end;
$$;

-- Every problem of a spec, in field order, each with the path the API would name (`pages[1].route`).
-- Empty for a spec the API accepts. The limits are the policy's; see appgen/spec.py for the same rules.
create function public.app_generation_spec_problems(p_spec jsonb)
returns table (path text, message text)
language plpgsql stable
set search_path = ''
as $$
declare
  v_policy constant public.app_generation_policy := public.app_generation_policy();
  v_value jsonb;
  v_item jsonb;
  v_page jsonb;
  v_i integer;
  v_j integer;
  v_pages integer;
  v_text text;
  v_size integer;
  v_total bigint := 0;
  v_page_ids text[] := '{}';
  v_routes text[] := '{}';
  v_actions text[];
begin
  if jsonb_typeof(p_spec) is distinct from 'object' then
    path := '(body)'; message := 'must be a JSON object (the generation_spec)'; return next;
    return;
  end if;
  return query select * from public.app_generation_spec_fields_problems(p_spec, '',
    array['projectId', 'globalNotes'], array[null, v_policy.max_note_chars], array[true, false],
    array[false, false], array['brief', 'style', 'pages']);
  -- The UUID spellings both Postgres and the worker's model read: hyphenated, or 32 digits.
  if jsonb_typeof(p_spec -> 'projectId') = 'string' and (p_spec ->> 'projectId') !~* (
       '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$') then
    path := 'projectId'; message := 'is not a uuid'; return next;
  end if;

  -- brief
  v_value := p_spec -> 'brief';
  if v_value is null then
    path := 'brief'; message := 'is required'; return next;
  elsif jsonb_typeof(v_value) <> 'object' then
    path := 'brief'; message := 'must be an object'; return next;
  else
    return query select * from public.app_generation_spec_fields_problems(v_value, 'brief',
      array['title', 'details', 'audience', 'goals'],
      array[v_policy.max_title_chars, v_policy.max_note_chars, v_policy.max_text_chars, v_policy.max_text_chars],
      array[true, false, false, false], array[true, false, false, false]);
  end if;

  -- style
  v_value := p_spec -> 'style';
  if v_value is not null and jsonb_typeof(v_value) <> 'object' then
    path := 'style'; message := 'must be an object'; return next;
  elsif v_value is not null then
    return query select * from public.app_generation_spec_fields_problems(v_value, 'style',
      array['name', 'notes'], array[v_policy.max_name_chars, v_policy.max_note_chars], array[false, false],
      array[false, false], array['palette', 'typography']);
    return query select * from public.app_generation_spec_list_problems(v_value -> 'palette', 'style.palette',
      v_policy.max_palette_entries, v_policy.max_color_chars,
      array['name', 'value'], array[v_policy.max_label_chars, v_policy.max_color_chars]);
    return query select * from public.app_generation_spec_list_problems(v_value -> 'typography',
      'style.typography', v_policy.max_typography_entries, v_policy.max_name_chars,
      array['role', 'family'], array[v_policy.max_label_chars, v_policy.max_name_chars]);
  end if;

  -- pages
  v_value := p_spec -> 'pages';
  if v_value is null then
    path := 'pages'; message := 'is required'; return next;
    return;
  elsif jsonb_typeof(v_value) <> 'array' then
    path := 'pages'; message := 'must be a list'; return next;
    return;
  end if;
  v_pages := jsonb_array_length(v_value);
  if v_pages < 1 then
    path := 'pages'; message := 'needs at least one page'; return next;
    return;
  elsif v_pages > v_policy.max_pages then
    path := 'pages'; message := format('has %s pages; at most %s are allowed', v_pages, v_policy.max_pages);
    return next;
    return;
  end if;
  for v_i in 0 .. v_pages - 1 loop
    v_page := v_value -> v_i;
    if jsonb_typeof(v_page) <> 'object' then
      path := format('pages[%s]', v_i); message := 'must be an object'; return next;
      continue;
    end if;
    return query select * from public.app_generation_spec_fields_problems(v_page, format('pages[%s]', v_i),
      array['pageId', 'route', 'name', 'selectedPreviewHtml', 'notes'],
      array[null, null, v_policy.max_name_chars, null, v_policy.max_note_chars],
      array[true, true, true, true, false], array[false, false, true, true, false],
      array['treeNode', 'actions']);

    if jsonb_typeof(v_page -> 'pageId') = 'string' then
      v_text := v_page ->> 'pageId';
      if v_text !~ v_policy.slug_pattern then
        path := format('pages[%s].pageId', v_i); message := format('must match %s', v_policy.slug_pattern);
        return next;
      elsif v_text = any (v_page_ids) then
        path := format('pages[%s].pageId', v_i); message := format('%L is used by more than one page', v_text);
        return next;
      end if;
      v_page_ids := v_page_ids || v_text;
    end if;

    if jsonb_typeof(v_page -> 'route') = 'string' then
      v_text := v_page ->> 'route';
      if v_text !~ v_policy.route_pattern then
        path := format('pages[%s].route', v_i); message := format('must match %s', v_policy.route_pattern);
        return next;
      elsif split_part(ltrim(v_text, '/'), '/', 1) = any (v_policy.reserved_route_segments) then
        path := format('pages[%s].route', v_i);
        message := format('route segment %L is reserved by the generated app', split_part(ltrim(v_text, '/'), '/', 1));
        return next;
      elsif v_text = any (v_routes) then
        path := format('pages[%s].route', v_i); message := format('%L is used by more than one page', v_text);
        return next;
      end if;
      v_routes := v_routes || v_text;
    end if;

    if jsonb_typeof(v_page -> 'selectedPreviewHtml') = 'string' then
      v_size := octet_length(convert_to(v_page ->> 'selectedPreviewHtml', 'UTF8'));
      v_total := v_total + v_size;
      if v_size > v_policy.max_preview_html_bytes then
        path := format('pages[%s].selectedPreviewHtml', v_i);
        message := format('is %s bytes; at most %s are allowed', v_size, v_policy.max_preview_html_bytes);
        return next;
      end if;
    end if;

    v_item := v_page -> 'treeNode';
    if v_item is not null and jsonb_typeof(v_item) <> 'object' then
      path := format('pages[%s].treeNode', v_i); message := 'must be an object'; return next;
    elsif v_item is not null then
      -- The size the API measures: Python's json.dumps, which writes every character past U+007E as a
      -- \uXXXX escape (6 characters; two of them beyond U+FFFF) where the jsonb text has the character.
      v_text := v_item::text;
      v_size := length(v_text) + 5 * length(regexp_replace(v_text, '[\x01-\x7e]', '', 'g'))
                + 6 * length(regexp_replace(v_text, '[^\U00010000-\U0010ffff]', '', 'g'));
      if v_size > v_policy.max_tree_node_bytes then
        path := format('pages[%s].treeNode', v_i);
        message := format('is larger than %s bytes', v_policy.max_tree_node_bytes);
        return next;
      end if;
    end if;

    v_item := v_page -> 'actions';
    if v_item is not null and jsonb_typeof(v_item) <> 'array' then
      path := format('pages[%s].actions', v_i); message := 'must be a list'; return next;
    elsif jsonb_array_length(coalesce(v_item, '[]')) > v_policy.max_actions_per_page then
      path := format('pages[%s].actions', v_i);
      message := format('has %s entries; at most %s are allowed', jsonb_array_length(v_item), v_policy.max_actions_per_page);
      return next;
    elsif v_item is not null then
      v_actions := '{}';
      for v_j in 0 .. jsonb_array_length(v_item) - 1 loop
        if jsonb_typeof(v_item -> v_j) <> 'string' then
          path := format('pages[%s].actions[%s]', v_i, v_j); message := 'must be a string'; return next;
        elsif (v_item ->> v_j) !~ v_policy.slug_pattern then
          path := format('pages[%s].actions[%s]', v_i, v_j); message := format('must match %s', v_policy.slug_pattern);
          return next;
        elsif (v_item ->> v_j) = any (v_actions) then
          path := format('pages[%s].actions', v_i); message := 'actions must be unique'; return next;
        else
          v_actions := v_actions || (v_item ->> v_j);
        end if;
      end loop;
    end if;
  end loop;

  if v_total > v_policy.max_total_preview_html_bytes then
    path := 'pages';
    message := format('preview HTML totals %s bytes; at most %s are allowed', v_total, v_policy.max_total_preview_html_bytes);
    return next;
  end if;
end;
$$;

revoke execute on function public.app_generation_blank_pattern() from public, anon, authenticated;
revoke execute on function public.app_generation_spec_fields_problems(jsonb, text, text[], integer[], boolean[], boolean[], text[])
  from public, anon, authenticated;
revoke execute on function public.app_generation_spec_list_problems(jsonb, text, integer, integer, text[], integer[])
  from public, anon, authenticated;
revoke execute on function public.app_generation_spec_problems(jsonb) from public, anon, authenticated;

-- ============================================================================================
-- submit_job: a user asks for an app
-- ============================================================================================
-- Owner = auth.uid(); anonymous users (the `is_anonymous` claim Supabase Auth sets) may not submit. Checks
-- the spec's shape (app_generation_spec_problems), project ownership, the idempotency key and the daily
-- quota; stores the spec (in app_generation_job_specs) and its hash (on the job). Returns the job id and
-- whether it is new (false: idempotent replay). Raises AGNF0 (not signed in, or the project is owned by
-- someone else), AGAN0 (anonymous user), AGIV0 (bad spec shape: the message names the first field path,
-- the DETAIL lists every problem), AGIK0 (key reused with another spec), AGQT0 (daily cap; the HINT carries
-- the seconds until the next slot opens).
create or replace function public.submit_job(p_spec jsonb, p_idempotency_key text default null)
returns table (job_id uuid, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy constant public.app_generation_policy := public.app_generation_policy();
  v_user uuid := auth.uid();
  v_project uuid;
  v_hash text := encode(sha256(convert_to(p_spec::text, 'UTF8')), 'hex');
  v_pages integer;
  v_problems jsonb;
  v_existing record;
  v_id uuid;
begin
  if v_user is null then
    raise exception 'not signed in' using errcode = 'AGNF0';
  end if;
  if auth.jwt() -> 'is_anonymous' = 'true'::jsonb then
    raise exception 'anonymous users may not generate apps; sign in with an account first'
      using errcode = 'AGAN0';
  end if;
  select jsonb_agg(jsonb_build_object('path', p.path, 'message', p.message)) into v_problems
  from public.app_generation_spec_problems(p_spec) p;
  if v_problems is not null then
    raise exception '%: %', v_problems -> 0 ->> 'path', v_problems -> 0 ->> 'message'
      using errcode = 'AGIV0', detail = v_problems::text;
  end if;
  v_project := (p_spec ->> 'projectId')::uuid;
  v_pages := jsonb_array_length(p_spec -> 'pages');

  -- Serialize submits of one user: the idempotency lookup and the quota count below must not race
  -- with a concurrent submit of the same user (two requests could both see 4 jobs and both insert).
  perform pg_advisory_xact_lock(hashtextextended('appgen.user:' || v_user::text, 0));

  if p_idempotency_key is not null then
    select j.id, j.spec_hash into v_existing
    from public.app_generation_jobs j
    where j.owner_id = v_user and j.idempotency_key = p_idempotency_key;
    if found then
      if v_existing.spec_hash <> v_hash then
        raise exception 'Idempotency-Key was already used with a different spec' using errcode = 'AGIK0';
      end if;
      return query select v_existing.id, false;
      return;
    end if;
  end if;

  if not public.app_generation_claim_project(v_project, v_user) then
    raise exception 'project not found' using errcode = 'AGNF0';
  end if;

  perform public.app_generation_check_quota(v_user);

  insert into public.app_generation_jobs (
    owner_id, project_id, spec_hash, idempotency_key, page_count, page_parallelism
  )
  values (v_user, v_project, v_hash, p_idempotency_key, v_pages,
          least(v_pages, v_policy.page_parallelism, v_policy.page_parallelism_max))
  returning id into v_id;
  insert into public.app_generation_job_specs (job_id, owner_id, generation_spec)
  values (v_id, v_user, p_spec);

  return query select v_id, true;
end;
$$;

revoke execute on function public.submit_job(jsonb, text) from public, anon;
grant execute on function public.submit_job(jsonb, text) to authenticated;
