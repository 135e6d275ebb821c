"""Storage: files written whole or not at all, signals, what the tool owns, the cache folder."""
