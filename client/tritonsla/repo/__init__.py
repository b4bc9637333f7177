"""tritonsla.repo."""
