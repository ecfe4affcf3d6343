"""The webhooks plugin's mutations."""
