"""The zoo registry: register specs, look them up by name or alias, list them with wildcards."""
from __future__ import annotations

import difflib
import fnmatch
import os
import re

from kerastl.errors import UnknownBackboneError
from kerastl.zoo.spec import BackboneSpec

_SPECS: dict[str, BackboneSpec] = {}
_ALIASES: dict[str, str] = {}  # normalised alias -> normalised name
_ALIAS_NAMES: dict[str, str] = {}  # alias as written -> canonical name
_loaded: set[str] = set()


def _key(name: str) -> str:
    return re.sub(r"[-_ ]", "", name.lower())


def register(spec: BackboneSpec, aliases: tuple[str, ...] = ()) -> BackboneSpec:
    """Add `spec` under its name (matching ignores case, '-' and '_') and `aliases`."""
    _SPECS[_key(spec.name)] = spec
    for alias in aliases:
        if _key(alias) in _SPECS:
            raise ValueError(f"alias {alias!r} would hide the zoo entry {_SPECS[_key(alias)].name!r}")
        _ALIASES[_key(alias)] = _key(spec.name)
        _ALIAS_NAMES[alias] = spec.name
    return spec


def _ensure_loaded(with_hub: bool = False) -> None:
    """Register the built-in tables; KerasHub presets only when asked (importing keras_hub is slow)."""
    if "base" not in _loaded:
        _loaded.add("base")
        from kerastl.zoo import applications, local  # noqa: F401  (they register themselves)
    if with_hub and "hub" not in _loaded:
        _loaded.add("hub")
        from kerastl.zoo import hub

        hub.register_presets()


def get(name: str) -> BackboneSpec:
    """The spec for a zoo name, alias, KerasHub preset name or local KerasHub preset directory."""
    _ensure_loaded()
    if not isinstance(name, str) or not name:
        raise UnknownBackboneError(f"backbone name must be a non-empty string, got {name!r}")
    if os.path.isdir(name):
        from kerastl.zoo import hub

        return hub.preset_dir_spec(name)
    key = _ALIASES.get(_key(name), _key(name))
    if key not in _SPECS:
        _ensure_loaded(with_hub=True)
    if key in _SPECS:
        return _SPECS[key]
    shown = {_key(a): a for a in _ALIAS_NAMES} | {k: s.name for k, s in _SPECS.items()}
    close = difflib.get_close_matches(_key(name), list(shown), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(shown[k]) for k in close)}?" if close else ""
    raise UnknownBackboneError(
        f"unknown backbone {name!r}.{hint} See kerastl.list_backbones() for the zoo, or pass a "
        "KerasHub preset directory."
    )


def list_backbones(pattern: str = "*", source: str | None = None) -> list[str]:
    """Sorted zoo names matching a shell-style `pattern` (e.g. "efficientnet*"), optionally by source."""
    _ensure_loaded(with_hub=source in (None, "keras_hub"))
    return sorted(
        s.name
        for s in _SPECS.values()
        if fnmatch.fnmatch(s.name.lower(), pattern.lower()) and source in (None, s.source)
    )


def aliases() -> dict[str, str]:
    """Alias -> canonical zoo name."""
    _ensure_loaded()
    return dict(sorted(_ALIAS_NAMES.items()))
