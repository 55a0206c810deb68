"""`appgen deploy`: Google Cloud (Cloud Run, Cloud Tasks, Cloud Scheduler, Secret Manager, Artifact
Registry, Cloud Build, GCS) and Supabase, set up from an empty project by one idempotent command.

plan.py      the declarative list of resources, in stages (every name, size and role, once)
resources.py, iam.py, queues.py, cloudrun.py, supabase.py
             the kinds: describe / create / update / delete, as gcloud and supabase commands
apply.py     the one loop (and its reverse, --destroy)
runner.py    running the CLIs: cached reads, printed changes, dry runs
images.py    image tags from content
command.py   the click command and the smoke check
"""
