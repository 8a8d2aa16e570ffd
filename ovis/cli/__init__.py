"""cli layer of ovis (see DESIGN.md)."""
