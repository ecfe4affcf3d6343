"""The loyalty mutations."""
