"""Tickets business logic, one small module per concern. No HTTP or GraphQL here: GraphQL,
the CLI, the jobs and the survey route all call these functions, so permissions and
visibility apply alike everywhere."""
