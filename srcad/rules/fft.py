"""Rules for fft (to come)."""
