"""The tickets plugin's mutations, one module per aggregate."""
