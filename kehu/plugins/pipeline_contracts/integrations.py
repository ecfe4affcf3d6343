"""What the bridge uses of the two plugins it links (its ``depends``): the only module here
that imports them (tables aside, for the foreign keys)."""

from kehu.plugins.contracts import services as contracts
from kehu.plugins.pipeline import services as pipeline

__all__ = ["contracts", "pipeline"]
