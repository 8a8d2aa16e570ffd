"""boot layer of ovis (see DESIGN.md)."""
