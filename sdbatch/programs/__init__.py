"""Program rounds: one rules file each (``*.toml``) and, where a round needs steps of its own, a
:class:`~sdbatch.programs.base.Program` subclass.

The class is found from the rules file: ``[program].module = "package.module:Class"`` (a program
defined outside this package, e.g. in a deployment's own code), else the built-in class of
``[program].kind`` (:data:`BUILTIN`), else the generic :class:`Program`.  Rules files are the
department's own configuration, so naming a module there is as trusted as the code itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sdbatch.programs.base import Program, ProgramOption

if TYPE_CHECKING:
    from sdbatch.rules import Rules

# kind -> "module:Class" of the programs shipped with sdbatch.
BUILTIN = {"park": "sdbatch.programs.park:ParkProgram"}


class ProgramNotFound(LookupError):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def program_class(kind: str, module: str | None = None) -> type[Program]:
    """The Program subclass of a kind (or of an explicit ``module:Class``)."""
    target = module or BUILTIN.get(kind)
    if not target:
        return Program
    mod_name, _, cls_name = target.partition(":")
    try:
        mod = importlib.import_module(mod_name)
        cls = getattr(mod, cls_name or "Program")
    except (ImportError, AttributeError) as exc:
        raise ProgramNotFound(target) from exc
    if not (isinstance(cls, type) and issubclass(cls, Program)):
        raise ProgramNotFound(target)
    return cls


def program_for(rules: Rules) -> Program:
    """The program object of a loaded rules file (cached on the Rules object)."""
    cached = getattr(rules, "_program", None)
    if cached is None:
        cached = program_class(rules.kind, getattr(rules, "module", None))(rules)
        object.__setattr__(rules, "_program", cached)
    return cached


def builtin_options() -> list[ProgramOption]:
    """Every run option the built-in programs declare (one per name)."""
    seen: dict[str, ProgramOption] = {}
    for kind in BUILTIN:
        for option in program_class(kind).options:
            seen.setdefault(option.name, option)
    return list(seen.values())
