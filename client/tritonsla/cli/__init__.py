"""tritonsla.cli."""
