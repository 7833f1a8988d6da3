"""Crates: a function packaged together with the objects it needs, passed explicitly by name.

    predictor = crate(lambda x, model: model.predict(x), model=fitted)
    predictor(new_data)          # == fitted.predict(new_data)

A crate is self-contained: its function may use its argument, the objects given to `crate()`,
builtins and imported modules (`np.sqrt`), nothing else from the session. Anything else is refused
when the crate is made, with the names in the error, not when it is loaded somewhere else.
"""

from __future__ import annotations

import builtins
import dis
import importlib.metadata
import inspect
import io
import platform
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle

from tracklet.errors import InvalidParameterValue

__all__ = ["Crate", "CrateError", "crate", "requirements_of"]


class CrateError(InvalidParameterValue):
    """The function given to `crate()` is not self-contained, or its objects cannot be pickled."""


class Crate:
    """A callable: `crate(x)` calls `fn(x, **objects)`.

    `size_bytes` is the size of the pickled function and objects; `requirements` maps each distribution the
    function and objects come from to its version; `python_version` is the interpreter's.
    """

    fn: Callable[..., Any]
    objects: dict[str, Any]
    python_version: str
    requirements: dict[str, str]
    size_bytes: int

    def __init__(self, fn: Callable[..., Any], objects: dict[str, Any]) -> None:
        self.fn = fn
        self.objects = dict(objects)
        self.python_version = platform.python_version()
        payload, modules = _pickle_recording_modules((fn, self.objects), fn)
        self.requirements = requirements_of(modules)
        self.size_bytes = len(payload)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self.fn(x, *args, **self.objects, **kwargs)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        objects = ", ".join(f"{k}: {type(v).__name__}" for k, v in self.objects.items())
        return f"<crate {name}({objects}) {_human_size(self.size_bytes)}>"

    def dumps(self) -> bytes:
        """The crate pickled with cloudpickle (the function by value unless it lives in an installed package)."""
        return _pickle_recording_modules(self, self.fn)[0]

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def crate(fn: Callable[..., Any], /, **objects: Any) -> Crate:
    """Package `fn` with `objects`; calling the crate with `x` calls `fn(x, **objects)`.

    Raises CrateError, naming them, when `fn` uses variables of the session other than imported
    modules, or when it does not accept the objects by name.
    """
    if isinstance(fn, Crate):
        if objects:
            raise CrateError("crate(): cannot add objects to an existing crate; crate its function again")
        return fn
    if not callable(fn):
        raise CrateError(f"crate(): expected a function, got {type(fn).__name__}")
    if isinstance(fn, types.FunctionType):
        _check_self_contained(fn, objects)
    return Crate(fn, objects)


# --- self-containment --------------------------------------------------------------------------


def _check_self_contained(fn: types.FunctionType, objects: dict[str, Any]) -> None:
    label = "lambda" if fn.__name__ == "<lambda>" else f"function {fn.__name__!r}"
    if fn.__code__.co_freevars:
        names = ", ".join(sorted(fn.__code__.co_freevars))
        raise CrateError(
            f"crate(): the {label} uses variables from its enclosing scope: {names}. "
            f"Pass them by name instead, e.g. crate(fn, {fn.__code__.co_freevars[0]}=...)"
        )
    foreign = sorted(
        name
        for name in _global_names(fn.__code__)
        if not _is_allowed_global(name, fn.__globals__, getattr(fn, "__builtins__", builtins))
    )
    if foreign:
        raise CrateError(
            f"crate(): the {label} uses global variables that are not imported modules: "
            f"{', '.join(foreign)}. Pass them by name (crate(fn, {foreign[0]}=...)) or refer to them "
            f"through their module (np.sqrt rather than sqrt)"
        )
    params = inspect.signature(fn).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [name for name in objects if name not in params and not takes_kwargs]
    if unknown:
        raise CrateError(f"crate(): the {label} has no parameter named {', '.join(unknown)}")
    positional = [
        p
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.default is p.empty
        and p.name not in objects
    ]
    if len(positional) > 1:
        missing = ", ".join(p.name for p in positional[1:])
        raise CrateError(f"crate(): the {label} needs {missing}, which was not passed to crate()")
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        raise CrateError(f"crate(): the {label} must take the input as its first parameter")


def _global_names(code: types.CodeType) -> Iterator[str]:
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"):
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions, lambdas, comprehensions
            yield from _global_names(const)


def _is_allowed_global(name: str, globals_: dict[str, Any], builtins: Any) -> bool:
    if name in globals_:
        return isinstance(globals_[name], types.ModuleType)
    builtin_names = builtins if isinstance(builtins, dict) else vars(builtins)
    return name in builtin_names


# --- pickling and requirements -----------------------------------------------------------------


class _RecordingPickler(cloudpickle.CloudPickler):  # type: ignore[misc]
    """Notes the module of every class, function and module the pickle refers to."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.modules: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.ModuleType):
            self.modules.add(obj.__name__)
        elif isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            module = getattr(obj, "__module__", None)
            if isinstance(module, str):
                self.modules.add(module)
        return super().reducer_override(obj)


def _pickle_recording_modules(obj: Any, fn: Any) -> tuple[bytes, set[str]]:
    by_value = _module_to_pickle_by_value(fn)
    if by_value is not None:
        cloudpickle.register_pickle_by_value(by_value)
    try:
        buffer = io.BytesIO()
        pickler = _RecordingPickler(buffer)
        try:
            pickler.dump(obj)
        except Exception as exc:  # pickling raises many kinds (TypeError, PicklingError, ...)
            raise CrateError(f"crate(): cannot pickle the crate: {exc}") from exc
        return buffer.getvalue(), pickler.modules | {"cloudpickle"}
    finally:
        if by_value is not None:
            cloudpickle.unregister_pickle_by_value(by_value)


def _module_to_pickle_by_value(fn: Any) -> types.ModuleType | None:
    """A function from the user's own importable module travels by value, like one from __main__."""
    module_name = getattr(fn, "__module__", None)
    if not isinstance(fn, types.FunctionType) or not module_name or module_name == "__main__":
        return None
    top = module_name.split(".")[0]
    if top == "tracklet" or top in sys.stdlib_module_names or top in _distributions_by_module():
        return None
    return sys.modules.get(module_name)


_DISTRIBUTIONS: dict[str, list[str]] | None = None


def _distributions_by_module() -> dict[str, list[str]]:
    global _DISTRIBUTIONS  # a cache of installed metadata, not state: it never changes in a process
    if _DISTRIBUTIONS is None:
        _DISTRIBUTIONS = dict(importlib.metadata.packages_distributions())
    return _DISTRIBUTIONS


def requirements_of(modules: set[str]) -> dict[str, str]:
    """Distribution name → installed version for the top-level packages of `modules`.

    The standard library is left out; tracklet is always in (it holds the loader).
    """
    from tracklet import __version__ as tracklet_version

    found: dict[str, str] = {"tracklet": tracklet_version}
    by_module = _distributions_by_module()
    for top in sorted({m.split(".")[0] for m in modules}):
        if top in sys.stdlib_module_names or top in ("__main__", "builtins", "tracklet") or top.startswith("_"):
            continue
        for dist in by_module.get(top, []):
            try:
                found[_canonical(dist)] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return dict(sorted(found.items()))


def _canonical(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
