"""`appgen deploy`: Google Cloud (Cloud Run, Cloud Tasks, Cloud Scheduler, Secret Manager, Artifact
Registry, Cloud Build, GCS) and Supabase, set up from an empty project by one idempotent command.

plan.py      the declarative list of resources, in stages (every name, size and role, once)
resources.py what a resource is (describe / create / update / delete) and the scope commands run in
apis.py, images.py, iam.py, secret_manager.py, buckets.py, queues.py, network.py, cloudrun.py, supabase.py
             the kinds, as gcloud and supabase commands (images.py also derives image tags from content)
apply.py     the one loop (and its reverse, --destroy)
runner.py    running the CLIs: cached reads, printed changes, dry runs
command.py   the click command and the smoke check
"""
