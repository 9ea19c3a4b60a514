"""critic_server."""
