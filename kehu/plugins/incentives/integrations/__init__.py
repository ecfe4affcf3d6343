"""Where incentives reads other plugins' tables, and nowhere else: ``pipeline`` (its
``depends``) and, only when they are enabled, ``contracts`` (with ``pipeline_contracts``'s
links) and ``tickets`` (its ``integrates``). Reads go to the source tables, not to event
payloads, so a recomputation always reflects the current truth."""
