"""tritonsla.server."""
