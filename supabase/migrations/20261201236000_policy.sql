-- appgen: a job whose stored spec the worker cannot load fails at once, with its own error code.
--
-- submit_job checks a spec's shape in SQL (20261201235000_jobs.sql) and the API checks it in Python, with
-- the same limits. Should the two still disagree (a rule added on one side only, a row written by hand),
-- the worker used to crash on the spec as an internal error, each redelivery again, while the job held a
-- running slot until its 45-minute deadline. Now the first step that cannot load the spec fails the job
-- with `spec_unreadable`: not retried (the spec does not change) and refunded (the database accepted it,
-- so it is not its owner's doing). Mirrored by ErrorCode in appgen/policy.py and the README's table.
--
-- Error codes: none raised here.

insert into public.app_generation_error_codes (code, refunded, transient, description) values
  ('spec_unreadable', true, false, 'the worker could not load the job''s stored spec');
