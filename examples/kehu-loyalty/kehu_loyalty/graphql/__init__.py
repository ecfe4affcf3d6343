"""Loyalty GraphQL: ``schema.py`` is the table of contents (what ``plugin.py`` hands to Kehu);
``types.py`` the output types, ``inputs.py``, ``loaders.py`` and ``mutations/``.

No ``from __future__ import annotations`` in this package: Strawberry reads the annotations at
startup."""
