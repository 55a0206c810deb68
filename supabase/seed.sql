-- Data only (the Supabase CLI loads it after the migrations on `supabase db reset`).
-- appgen needs no seed rows: users, projects and jobs are created through the API.
select 1;
