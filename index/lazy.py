"""Names a package exports, imported on first use (PEP 562): cheap imports for the settings
loader and `newsbot info`, which need none of faiss, scipy or the model runtime."""

from __future__ import annotations

import importlib
import sys


def exports(package: str, names: dict[str, str]):
    """The package's __getattr__ and __dir__ for names: name -> the submodule that defines it."""

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        vars(sys.modules[package])[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
