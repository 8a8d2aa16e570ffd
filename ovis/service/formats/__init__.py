"""Readers of the source formats ovis understands, one module per format."""
