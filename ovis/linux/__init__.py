"""linux layer of ovis (see DESIGN.md)."""
