"""The incentives plugin's mutations, one module per aggregate."""
