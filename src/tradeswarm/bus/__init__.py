"""Typed topics, publisher ACLs, and the in-process async bus."""
