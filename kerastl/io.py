"""Writing outputs atomically: build under a temporary sibling name, then rename into place.

Temporary names are `.<name>.partial-<pid>-<random>`; a later write to the same target removes those
left by processes that no longer run (a killed run), so an interruption never leaves junk behind for good.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Iterator

from kerastl.errors import InvalidArgumentError

MEMORY_BYTES = 2 * 10**9  # RAM a cache (decoded images, phase-1 features) may hold before it goes to disk


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}{target.suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_partials(target: str | Path) -> list[Path]:
    """Remove the temporary siblings of `target` left by dead processes; returns what was removed."""
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.partial-(\d+)-[0-9a-f]+")
    removed = []
    if target.parent.is_dir():
        for sibling in target.parent.iterdir():
            match = pattern.match(sibling.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                shutil.rmtree(sibling) if sibling.is_dir() else sibling.unlink(missing_ok=True)
                removed.append(sibling)
    return removed


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes `path` only if the block succeeds."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise InvalidArgumentError(f"{str(target)!r} already exists; choose a new path or remove it")
    created = [p for p in target.parents if not p.exists()]  # innermost first: removed again on failure
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(target)
    tmp = _partial(target)
    tmp.mkdir()
    done = False
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in [] if done else created:
            with contextlib.suppress(OSError):
                parent.rmdir()


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file name (same folder and suffix) that replaces `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(target)
    tmp = _partial(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """`path.write_text(text)`, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)
