"""Reading and running the lab in Jupyter: the code of a technique, an experiment's settings.

``source(trainlab.optim.SGD.update)`` shows trainlab's own code of the
update rule (read from the installed module with :func:`inspect.getsource`,
never a copy); ``settings("optimizer-paths")`` lists what a reader can change
with ``run_experiment(name, quick=True, overrides={...})``. Both show
themselves as HTML in a notebook and as plain text when printed.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

__all__ = ["Settings", "Source", "settings", "source"]


@dataclass(frozen=True, repr=False)
class Source:
    """The source code of one function, method or class, with where it lives."""

    name: str
    module: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"# {self.name} in {self.module}, line {self.line}\n{self.code}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        where = f'<div style="color:#555;font-size:0.9em">{html.escape(self.name)} in ' \
                f"<code>{html.escape(self.module)}</code>, line {self.line}</div>"
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pygments comes with Jupyter; without it, plain text
            return f"{where}<pre>{html.escape(self.code)}</pre>"
        formatter = HtmlFormatter(noclasses=True, nobackground=True)
        return where + highlight(self.code, PythonLexer(), formatter)


def source(obj: Any) -> Source:
    """The code of ``obj`` (a function, method or class of trainlab, or any Python object with source).

    Raises TypeError for an object that has no Python source (a built-in, an instance).
    """
    target = inspect.unwrap(obj)
    if isinstance(target, property):
        target = target.fget
    try:
        lines, line = inspect.getsourcelines(target)
    except (TypeError, OSError) as e:
        raise TypeError(f"no Python source for {obj!r}: pass a function, method or class ({e})") from None
    module = getattr(inspect.getmodule(target), "__name__", "?")
    name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
    return Source(name, module, line, textwrap.dedent("".join(lines)).rstrip() + "\n")


@dataclass(frozen=True, repr=False)
class Settings:
    """The settings of one experiment: name, value in quick mode, value in a full run, type."""

    experiment: str
    rows: tuple[tuple[str, Any, Any, str], ...]

    def __str__(self) -> str:
        width = max((len(r[0]) for r in self.rows), default=4)
        lines = [f"{'setting':<{width}}  quick / full run  (type)"]
        lines += [f"{name:<{width}}  {quick!r} / {full!r}  ({kind})" for name, quick, full, kind in self.rows]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(repr(q))}</td>"
                       f"<td>{html.escape(repr(f))}</td><td>{html.escape(k)}</td></tr>" for n, q, f, k in self.rows)
        return (f"<table><tr><th>setting of {html.escape(self.experiment)}</th><th>quick</th><th>full run</th>"
                f"<th>type</th></tr>{rows}</table>")


def settings(name: str) -> Settings:
    """What ``run_experiment(name, overrides={...})`` accepts, with its quick and full-run values."""
    from trainlab.experiments import EXPERIMENTS

    spec = EXPERIMENTS.get(name)
    quick, full = spec.make_config(quick=True), spec.make_config()
    hints = typing.get_type_hints(spec.config_cls)
    rows = tuple((f.name, getattr(quick, f.name), getattr(full, f.name), _type_name(hints[f.name]))
                 for f in dataclasses.fields(spec.config_cls))
    return Settings(spec.name, rows)


def _type_name(kind) -> str:
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")
