"""The MCP server: streamable HTTP inside the API app at /mcp/v1/, and stdio (`sippy mcp`)."""
