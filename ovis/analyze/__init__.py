"""analyze layer of ovis (see DESIGN.md)."""
