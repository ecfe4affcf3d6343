"""The reporting plugin's mutations."""
