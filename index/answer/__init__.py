"""Answering: the ranked passages' evidence, the "covered?" judgement, the composed answer."""
