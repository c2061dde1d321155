"""Real HTTP stand-ins for outside services, for tests that must not mock the client library."""
