"""engine layer of ovis (see DESIGN.md)."""
