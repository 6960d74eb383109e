"""Clients of other systems: Redis (keys and connections), httpx clients, notifications."""
