"""Web pages over the same data and library functions as the HTTP API (server-rendered)."""
