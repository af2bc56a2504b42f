"""The backbone zoo: specs as data, one registry, one way to build a backbone."""
from kerastl.zoo.registry import aliases, get, list_backbones, register
from kerastl.zoo.spec import BackboneSpec, Preprocessing

__all__ = ["BackboneSpec", "Preprocessing", "aliases", "get", "list_backbones", "register"]
