"""The embedded local stack: PostgreSQL, the API, the local dispatcher and the worker in one process."""
