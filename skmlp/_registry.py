"""One registry per kind of component: activations, solvers, schedules, ...

A :class:`Registry` maps the names users pass as estimator parameters to the
component behind them. Each kind of component has one, filled where the
components are defined, and everything that needs the list of choices (the
parameter constraints, the builders, the docs' tests) reads it from there, so
adding a component is its class plus one ``register`` line.
"""

from collections.abc import Iterator, KeysView, Mapping

from sklearn.utils._param_validation import StrOptions


class Registry(Mapping):
    """Named components of one kind.

    Parameters
    ----------
    kind : str
        What the components are ("activation", "solver", ...), for messages.

    Examples
    --------
    >>> from skmlp._registry import Registry
    >>> colours = Registry("colour")
    >>> colours.register("red", (255, 0, 0))
    (255, 0, 0)
    >>> colours["red"]
    (255, 0, 0)
    >>> colours.resolve("blue")
    Traceback (most recent call last):
    ...
    ValueError: Unknown colour 'blue'; expected one of ['red'].
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict = {}

    def register(self, name: str, entry, *, aliases=()):
        """Add ``entry`` under ``name`` (and each alias); return ``entry``.

        Raises
        ------
        ValueError
            If a name is taken already.
        """
        for key in (name, *aliases):
            if key in self._entries:
                raise ValueError(f"A {self.kind} named {key!r} is registered already.")
        for key in (name, *aliases):
            self._entries[key] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's temporary component, say)."""
        del self._entries[name]

    def resolve(self, name: str):
        """The entry registered under ``name``; a ValueError naming the choices."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"Unknown {self.kind} {name!r}; expected one of {sorted(self)}."
            ) from None

    def names(self) -> KeysView:
        """The registered names, a live view (it sees later registrations)."""
        return self._entries.keys()

    def constraint(self) -> StrOptions:
        """A parameter constraint accepting exactly the registered names.

        It holds the live view of :meth:`names`, so a component registered
        after import is accepted by the estimators' parameter validation too.
        """
        return StrOptions(self._entries.keys())

    def __getitem__(self, name: str):
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self)})"


def build(cls, params: dict):
    """``cls`` constructed from the estimator parameters it declares.

    ``cls.hyperparameters`` maps each constructor argument to the name of the
    estimator parameter it takes its value from; ``params`` is the
    estimator's ``get_params()``.
    """
    return cls(**{arg: params[name] for arg, name in cls.hyperparameters.items()})
