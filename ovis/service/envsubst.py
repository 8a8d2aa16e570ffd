"""66's ``[Environment]`` semantics, resolved at compile time where they are static.

66 runs ``execl-envfile`` before a service's Execute text.  That tool

1. expands ``${name}`` inside the values, in any order of declaration,
   from the other variables of the section, and, for a name the section
   does not define (or a variable naming itself, ``PATH=/x:${PATH}``), from
   the environment the service was started with;
2. exports every variable, except those written ``key=!value``;
3. substitutes every variable (also the ``!`` ones) into the Execute
   command line with execline's own substitution, as one word each.

Step 1 is pure function of the definition except for the inherited names,
so ovis does it here once and leaves only the inherited names for run time
(:class:`Template`).  ``$name`` without braces inside a value is kept as
written, as 66 keeps it.  A cycle between variables (``a=${b}``, ``b=${a}``)
has no value in 66 either: it is refused here with the file and line.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

from ovis.errors import DefinitionError
from ovis.record import Frozen

_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_REST = _FIRST | frozenset("0123456789")


def references(value: str) -> Iterator[tuple[int, int, str]]:
    r"""(start, end, NAME) of each ``${NAME}`` in *value*, left to right, as
    ``re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")`` finds them.

    str methods, not ``re``: the compiler imports this, and every start and
    stop imports the compiler (``re`` and its enum cost some 20 modules).
    """
    find = value.find
    i = find("${")
    while i >= 0:
        j = i + 2
        if j < len(value) and value[j] in _FIRST:
            j += 1
            while j < len(value) and value[j] in _REST:
                j += 1
            if j < len(value) and value[j] == "}":
                yield i, j + 1, value[i + 2:j]
                i = find("${", j + 1)
                continue
        i = find("${", i + 1)


class Template(Frozen):
    """A resolved value: literal text with inherited ``${NAME}`` references.

    ``parts`` alternates literal text (even indexes) and inherited variable
    names (odd indexes), so ``/x:${PATH}`` is ``("/x:", "PATH", "")``.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[str, ...]) -> None:
        s = object.__setattr__
        s(self, "parts", parts)

    @property
    def inherited(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def render(self, ref: "dict[str, str] | None" = None) -> str:
        """The text with each inherited name written ``${ref[name]}``."""
        out = []
        for i, p in enumerate(self.parts):
            out.append(p if i % 2 == 0 else "${" + (ref or {}).get(p, p) + "}")
        return "".join(out)


def resolve(env: dict[str, str], where: "dict[str, tuple[str, int]]", source: str) -> dict[str, Template]:
    """Every variable's value with the section's own references expanded.

    *where* maps a variable to its (file, line) for errors; a value holding
    a NUL byte is refused (no exec argument or environment entry can hold one).
    """
    done: dict[str, Template] = {}

    def place(name: str) -> tuple[str, int]:
        return where.get(name, (source, 1))

    def expand(name: str, chain: list[str]) -> Template:
        if name in done:
            return done[name]
        value = env[name]
        if "\0" in value:
            path, line = place(name)
            raise DefinitionError(path, line, name, "value holds a NUL byte")
        parts: list[str] = [""]
        pos = 0
        for start, end, ref in references(value):
            parts[-1] += value[pos:start]
            pos = end
            if ref == name or ref not in env:  # inherited from the starting environment
                parts += [ref, ""]
                continue
            if ref in chain:  # named at the variable where the cycle starts
                path, line = place(ref)
                cycle = " -> ".join([*chain[chain.index(ref):], ref])
                raise DefinitionError(path, line, ref, f"variables refer to each other in a cycle: {cycle}")
            sub = expand(ref, [*chain, ref])
            parts[-1] += sub.parts[0]
            parts += list(sub.parts[1:])
        parts[-1] += value[pos:]
        done[name] = Template(tuple(parts))
        return done[name]

    return {name: expand(name, [name]) for name in env}


def import_names(inherited: "set[str]", texts: "list[str]") -> dict[str, str]:
    """A private substitution name for each inherited variable.

    The run script imports ``PATH`` under a name that occurs in none of
    *texts* (Execute, values), so that execline's substitution of it
    reaches the values it was meant for and nothing the user wrote.
    """
    out: dict[str, str] = {}
    for name in sorted(inherited):
        alias = f"OVIS_INHERITED_{name}"
        while any(alias in t for t in texts):
            alias += "_"
        out[name] = alias
    return out
