"""HTTP: the Transport protocol, the rules every request follows, and its adapters."""
