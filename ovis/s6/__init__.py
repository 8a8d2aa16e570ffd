"""s6 layer of ovis (see DESIGN.md)."""
