"""Moved to kehu.plugins.reporting.services.charts (this path goes away in Kehu 0.3)."""

from kehu.core.deprecation import moved_module

moved_module(__name__, "kehu.plugins.reporting.services.charts")
