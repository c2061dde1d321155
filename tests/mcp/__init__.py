"""MCP server tests, with the official MCP Python client."""
