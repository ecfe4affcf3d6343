"""Kehu's own fixtures come from the ``kehu.core.testing`` pytest plugin (entry point)."""
