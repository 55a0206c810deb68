"""The worker's pipeline steps (DESIGN.md §7): scaffold, page, integrate, validate, fix, package."""
