"""Use data: what people ask and how they vote, kept in SQLite, and the admins' report."""

from ..errors import UsageStoreError
from .store import QuestionRecord, UsageStore, VoteRecord
from .writer import UsageWriter

__all__ = ["QuestionRecord", "UsageStore", "UsageStoreError", "UsageWriter", "VoteRecord"]
