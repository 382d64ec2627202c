"""Where base credentials come from: one module per source."""
