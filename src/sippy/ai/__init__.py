"""The model client, the prompts and the summarizers (model and built-in)."""
