"""newsbot's adapters: the command line and (lazily) the Discord bot."""


def create_bot(settings=None, searcher=None):
    """Return the unstarted discord.py bot with its index loaded (built if missing)."""
    from .client import create_bot as _create

    return _create(settings=settings, searcher=searcher)


__all__ = ["create_bot"]
