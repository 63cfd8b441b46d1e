"""One module per measurement section."""
