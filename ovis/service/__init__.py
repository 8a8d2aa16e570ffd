"""service layer of ovis (see DESIGN.md)."""
