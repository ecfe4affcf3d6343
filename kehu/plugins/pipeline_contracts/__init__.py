"""Bridge between pipeline and contracts: a won opportunity drafts a contract; a contract
shows its source opportunity. Enabled automatically when both plugins are."""
