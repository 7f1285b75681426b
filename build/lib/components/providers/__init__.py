"""Old module paths of the dynamic providers, kept for state written before the package move."""
