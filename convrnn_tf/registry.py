"""Named registries of classes (cells, decoders) for graph specs and gin."""

from __future__ import annotations


class Registry:
    """Classes by name, with aliases; unknown names raise a `ValueError` listing the valid ones."""

    def __init__(self, kind: str, aliases: dict[str, str] | None = None):
        self.kind = kind
        self.aliases = dict(aliases or {})
        self._classes: dict[str, type] = {}

    def register(self, name: str):
        """Class decorator: make ``cls`` available under ``name`` (sets ``cls.registered_name``)."""

        def decorate(cls):
            if name in self.aliases:
                raise ValueError(f"{self.kind} name {name!r} is an alias of {self.aliases[name]!r}")
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.kind} name {name!r} is already registered to {self._classes[name]!r}")
            self._classes[name] = cls
            cls.registered_name = name
            return cls

        return decorate

    def names(self) -> list[str]:
        """The registered names (without aliases), sorted."""
        return sorted(self._classes)

    def get(self, name):
        """The class for ``name`` (or an alias); a class passes through."""
        if isinstance(name, type):
            return name
        try:
            return self._classes[self.aliases.get(name, name)]
        except (KeyError, TypeError):
            extra = ""
            if self.aliases:
                extra = " (aliases: " + ", ".join(f"{a} -> {n}" for a, n in sorted(self.aliases.items())) + ")"
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid {self.kind} names are: {', '.join(self.names())}{extra}"
            ) from None
