"""Use cases: the report, index building (one process or several), the explorer's headless
workspace, the cache's inventory."""
