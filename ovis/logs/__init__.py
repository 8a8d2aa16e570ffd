"""logs layer of ovis (see DESIGN.md)."""
