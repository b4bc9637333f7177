"""tritonsla.profiles."""
