"""The pipeline's mutations, one module per aggregate."""
