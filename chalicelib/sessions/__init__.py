"""VR sessions: start, read, list and end them, each owner seeing its own."""
