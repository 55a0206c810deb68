"""Production adapters of appgen's ports on Google Cloud and Supabase: Cloud Tasks dispatch
(`appgen.cloud.tasks`), Google OIDC verification of internal callers (`appgen.cloud.oidc`), and the
Supabase Storage and Google Cloud Storage object stores (`appgen.cloud.supabase_storage`,
`appgen.cloud.gcs`).

Each module imports its client library itself, so a local stack never loads grpc or the GCS client;
`appgen.services.build_services` imports the ones the settings ask for.
"""

from appgen.cloud.oidc import verify_google_oidc

__all__ = ["verify_google_oidc"]
