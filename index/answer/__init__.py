"""Answering: the ranked passages' evidence, the "covered?" judgement, the composed answer."""

from .respond import answer

__all__ = ["answer"]
