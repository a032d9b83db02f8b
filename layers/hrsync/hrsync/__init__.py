"""hrsync: keeps employee records in step between payroll, HR and the apps around them.

The package is the shared Lambda layer. Handlers in functions/ call one use case each:
`runs` (start and plan a run), `apply` (one work item), `review` (a dead-lettered item), `api` (the REST API).
"""

__version__ = "0.1.0"
