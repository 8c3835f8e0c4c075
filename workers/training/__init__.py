"""Model training loops (torch)."""
