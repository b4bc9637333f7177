"""tritonsla.text."""
