-- submit_job refuses what the HTTP API refuses (20261201230100_jobs.sql): anonymous users (AGAN0) and
-- specs appgen/spec.py would reject (AGIV0, the message naming the first field path, the DETAIL every
-- problem), with the limits of app_generation_policy(). Signed-in users can call submit_job straight
-- through Supabase's REST API, so these are the rules a spec meets whichever way it comes in.
begin;
create extension if not exists pgtap;
select plan(34);

\ir helpers.psql

select set_config('test.user', 'f1000000-0000-4000-8000-000000000001', true);
select set_config('test.project', 'f2000000-0000-4000-8000-000000000001', true);

-- The valid spec the cases below break one rule of: two pages, every optional field present.
create function pg_temp.full_spec() returns jsonb language sql as $$
  select jsonb_build_object(
    'projectId', pg_temp.id('project'),
    'brief', jsonb_build_object('title', 'Shop', 'details', 'A shop.', 'audience', 'buyers', 'goals', 'sell'),
    'style', jsonb_build_object('name', 'Plain', 'palette', jsonb_build_array('#111827',
                                 jsonb_build_object('name', 'brand', 'value', '#4f46e5')),
                                'typography', jsonb_build_array('Inter', jsonb_build_object('role', 'body', 'family', 'Inter')),
                                'notes', ''),
    'globalNotes', '',
    'pages', jsonb_build_array(
      jsonb_build_object('pageId', 'home', 'route', '/', 'name', 'Home', 'treeNode', '{}'::jsonb,
                         'selectedPreviewHtml', '<h1>Home</h1>', 'actions', jsonb_build_array('signup'), 'notes', ''),
      jsonb_build_object('pageId', 'pricing', 'route', '/pricing/plans', 'name', 'Pricing', 'treeNode', '{"id": 2}'::jsonb,
                         'selectedPreviewHtml', '<h1>Pricing</h1>', 'actions', '[]'::jsonb, 'notes', '')))
$$;

-- The spec with the value at `p_path` replaced (jsonb_set), or removed when `p_value` is null.
create function pg_temp.with(p_path text[], p_value jsonb) returns jsonb language sql as $$
  select case when p_value is null then pg_temp.full_spec() #- p_path
              else jsonb_set(pg_temp.full_spec(), p_path, p_value) end
$$;

-- ---------------------------------------------------------------------------------------------
-- Anonymous users
-- ---------------------------------------------------------------------------------------------
select set_config('request.jwt.claims', json_build_object('sub', pg_temp.id('user'), 'role', 'authenticated',
                                                          'is_anonymous', true)::text, true);
set local role authenticated;
select throws_ok($$select public.submit_job(pg_temp.full_spec())$$, 'AGAN0',
  'anonymous users may not generate apps; sign in with an account first', 'an anonymous user cannot submit');
reset role;
select is((select count(*)::integer from public.app_generation_jobs), 0, 'and nothing was stored');

select pg_temp.become(pg_temp.id('user'));
select lives_ok($$select public.submit_job(pg_temp.full_spec())$$,
  'the same user without the anonymous claim can, with every optional field present');
select lives_ok(
  $$select public.submit_job(jsonb_build_object('projectId', pg_temp.id('project'), 'brief', '{"title": "T"}'::jsonb,
      'pages', '[{"pageId": "home", "route": "/", "name": "Home", "selectedPreviewHtml": "<p>x</p>"}]'::jsonb))$$,
  'and with every optional field left out');

-- ---------------------------------------------------------------------------------------------
-- The shape of the spec: one broken rule per case, named by its field path
-- ---------------------------------------------------------------------------------------------
select throws_ok(format('select public.submit_job(%L::jsonb)', c.spec), 'AGIV0', c.message, c.why)
from (values
  ('[1, 2]'::jsonb, '(body): must be a JSON object (the generation_spec)', 'the spec is an object'),
  (pg_temp.with('{unexpected}', '1'), 'unexpected: is not an allowed field', 'unknown fields are refused'),
  (pg_temp.with('{brief}', null), 'brief: is required', 'the brief is required'),
  (pg_temp.with('{brief,title}', to_jsonb(E'\u00a0\t '::text)), 'brief.title: must not be empty',
   'a title of nothing but whitespace is empty (Python''s notion of whitespace)'),
  (pg_temp.with('{brief,title}', to_jsonb(repeat('t', 201))),
   'brief.title: is 201 characters; at most 200 are allowed', 'the title has the policy''s length'),
  (pg_temp.with('{brief,details}', '7'), 'brief.details: must be a string', 'texts are strings'),
  (pg_temp.with('{style,palette}', (select jsonb_agg('#000000'::text) from generate_series(1, 25))),
   'style.palette: has 25 entries; at most 24 are allowed', 'the palette has the policy''s size'),
  (pg_temp.with('{style,palette,1}', '{"value": "#fff"}'), 'style.palette[1].name: is required',
   'a named colour needs its name'),
  (pg_temp.with('{style,typography,0}', to_jsonb(repeat('f', 101))),
   'style.typography[0]: is 101 characters; at most 100 are allowed', 'a font name has the policy''s length'),
  (pg_temp.with('{globalNotes}', to_jsonb(repeat('n', 4001))),
   'globalNotes: is 4001 characters; at most 4000 are allowed', 'notes have the policy''s length'),
  (pg_temp.with('{pages,1,pageId}', '"Pricing Page"'), 'pages[1].pageId: must match ^[a-z][a-z0-9-]{0,39}$',
   'a page id is a slug'),
  (pg_temp.with('{pages,1,pageId}', '"home"'), 'pages[1].pageId: ''home'' is used by more than one page',
   'page ids are unique'),
  (pg_temp.with('{pages,1,route}', '"pricing"'),
   'pages[1].route: must match ^/(?:[a-z0-9][a-z0-9-]{0,39}(?:/[a-z0-9][a-z0-9-]{0,39}){0,4})?$',
   'a route is "/" or "/segment[/segment…]"'),
  (pg_temp.with('{pages,1,route}', '"/pricing/[id]"'),
   'pages[1].route: must match ^/(?:[a-z0-9][a-z0-9-]{0,39}(?:/[a-z0-9][a-z0-9-]{0,39}){0,4})?$',
   'dynamic routes are refused'),
  (pg_temp.with('{pages,1,route}', '"/api/plans"'),
   'pages[1].route: route segment ''api'' is reserved by the generated app', 'reserved first segments are refused'),
  (pg_temp.with('{pages,1,route}', '"/"'), 'pages[1].route: ''/'' is used by more than one page', 'routes are unique'),
  (pg_temp.with('{pages,1,name}', null), 'pages[1].name: is required', 'a page needs its name'),
  (pg_temp.with('{pages,0,selectedPreviewHtml}', to_jsonb(repeat('é', 150001))),
   'pages[0].selectedPreviewHtml: is 300002 bytes; at most 300000 are allowed',
   'one page''s preview HTML has the policy''s size, in UTF-8 bytes'),
  (pg_temp.with('{pages,0,selectedPreviewHtml}', '" "'), 'pages[0].selectedPreviewHtml: must not be empty',
   'a blank preview is empty'),
  (pg_temp.with('{pages,0,treeNode}', jsonb_build_object('label', repeat('ü', 3332))),
   'pages[0].treeNode: is larger than 20000 bytes',
   'a tree node has the policy''s size as the API measures it (non-ASCII as \uXXXX escapes)'),
  (pg_temp.with('{pages,0,treeNode}', '[]'), 'pages[0].treeNode: must be an object', 'a tree node is an object'),
  (pg_temp.with('{pages,0,actions}', (select jsonb_agg('a' || i) from generate_series(1, 11) i)),
   'pages[0].actions: has 11 entries; at most 10 are allowed', 'a page has at most 10 actions'),
  (pg_temp.with('{pages,0,actions}', '["signup", "signup"]'), 'pages[0].actions: actions must be unique',
   'a page''s actions are unique'),
  (pg_temp.with('{pages,0,actions}', '["sign up"]'), 'pages[0].actions[0]: must match ^[a-z][a-z0-9-]{0,39}$',
   'an action is a slug'),
  (pg_temp.with('{pages,0,notes}', to_jsonb(repeat('n', 4001))),
   'pages[0].notes: is 4001 characters; at most 4000 are allowed', 'page notes have the policy''s length'),
  (pg_temp.with('{pages}', (select jsonb_agg(jsonb_build_object('pageId', 'p' || i, 'route', '/p' || i, 'name', 'P',
                                                               'selectedPreviewHtml', repeat('x', 300000)))
                            from generate_series(1, 7) i)),
   'pages: preview HTML totals 2100000 bytes; at most 2000000 are allowed', 'all previews together have the policy''s size')
) c(spec, message, why);

select is((pg_temp.error_of($$select public.submit_job(pg_temp.with('{pages,1}', '{"pageId": "Bad", "route": "/", "name": ""}'))$$) ->> 'detail')::jsonb,
  '[{"path": "pages[1].name", "message": "must not be empty"},
    {"path": "pages[1].selectedPreviewHtml", "message": "is required"},
    {"path": "pages[1].pageId", "message": "must match ^[a-z][a-z0-9-]{0,39}$"},
    {"path": "pages[1].route", "message": "''/'' is used by more than one page"}]'::jsonb,
  'the DETAIL lists every problem of the spec with its path');

-- At the limits, a spec passes.
select lives_ok(
  format('select public.submit_job(%L::jsonb)', pg_temp.with('{pages}',
    (select jsonb_agg(jsonb_build_object('pageId', 'p' || i, 'route', '/p' || i, 'name', repeat('n', 100),
                                         'selectedPreviewHtml', repeat('x', case when i <= 6 then 300000 else 200000 end),
                                         'actions', (select jsonb_agg('a' || j) from generate_series(1, 10) j)))
     from generate_series(1, 7) i))),
  'previews of 300,000 bytes totalling 2,000,000, names of 100 characters and 10 actions per page pass');
select lives_ok(format('select public.submit_job(%L::jsonb)',
    pg_temp.with('{pages,0,treeNode}', jsonb_build_object('label', repeat('ü', 3331)))),
  'a tree node of 19,999 bytes as the API measures it passes');
reset role;
select is((select count(*)::integer from public.app_generation_jobs), 4,
  'only the four valid specs were stored');

select * from finish();
rollback;
