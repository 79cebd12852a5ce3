"""Rules for linalg (to come)."""
