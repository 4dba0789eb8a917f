"""The application's own health: schema version and start-up checks."""
