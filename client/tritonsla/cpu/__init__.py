"""tritonsla.cpu."""
