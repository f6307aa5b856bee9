"""The app's widgets: image preview, history panel, status line, command input."""
