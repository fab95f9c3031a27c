"""A simulated twin of the real estate: the synced inventory written as an ivmsim fleet file (``export``)."""
