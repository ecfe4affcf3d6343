"""The bridge's mutations."""
