"""Rules for scipy (to come)."""
