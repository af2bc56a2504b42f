"""Task heads: each a small function (backbone features, options) -> output tensor(s)."""
from kerastl.heads.classification import classification

TASKS = {"classification": classification}

__all__ = ["TASKS", "classification"]
