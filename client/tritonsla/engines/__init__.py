"""tritonsla.engines."""
