"""The contracts plugin's mutations, one module per aggregate."""
