"""The terminal app, command line, sessions and edit history."""
