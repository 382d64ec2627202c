"""The shared files: where they are, how they parse and merge, and the plan a profile becomes."""
