"""pytest plugin (filled in by the CI-regression work)."""
