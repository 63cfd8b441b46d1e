"""The two sides compared: lxpack and the raw CLI."""
