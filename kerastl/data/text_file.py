"""`sentence<TAB>label` text files (e.g. the UCI sentiment sentences) -> texts and integer labels."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from kerastl.errors import InvalidArgumentError


def text_lines(*paths: str | Path, separator: str = "\t") -> tuple[list[str], np.ndarray]:
    """Texts and int labels from lines `text<separator>label`; the label is after the last separator.

    No CSV quoting (quotes inside sentences are kept). Lines without a separator or with a non-integer
    label are skipped with a counted warning; an empty result is an error.
    """
    texts, labels, bad = [], [], 0
    for path in paths:
        if not Path(path).is_file():
            raise InvalidArgumentError(f"text file {str(path)!r} does not exist")
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            text, sep, label = line.rpartition(separator)
            if not sep or not label.strip().lstrip("-").isdigit() or not text.strip():
                bad += bool(line.strip())
                continue
            texts.append(text.strip())
            labels.append(int(label))
    if bad:
        warnings.warn(f"skipped {bad} malformed line(s) in {[str(p) for p in paths]} (expected text{separator!r}label)",
                      stacklevel=2)
    if not texts:
        raise InvalidArgumentError(f"no `text{separator}label` lines in {[str(p) for p in paths]}")
    return texts, np.array(labels, dtype="int32")
