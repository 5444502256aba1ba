"""Conversations: the last turns of one asker's exchange, and whether a question leans on them."""

from .follow_up import leans_on
from .memory import Conversations, Turn

__all__ = ["Conversations", "Turn", "leans_on"]
