"""The `hrsync` command for the people on call (not Lambda code: it runs on an operator's machine)."""
