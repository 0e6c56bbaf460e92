"""Files that ship inside the packages and that a command names by a short name.

s1data's pipeline configs sit at `configs/` in a checkout and at `s1data/configs` in the wheel; s1train's recipes
at `recipes/` and `s1train/recipes` (pyproject's force-include, as the tasks are shipped as `s1eval/tasks`). So
that `s1data run s1k` and `s1train sft --config s1_32b` work from any folder, an argument is resolved as:

1. an existing file is that file, whatever its name;
2. otherwise a packaged name: `s1k`, `mini/s1k`, `s1k.yaml` or the checkout spelling `configs/s1k.yaml` (a
   folder in the working directory named `s1k` does not shadow the packaged `s1k`);
3. otherwise an error: for a folder, that it is a folder and not a config/recipe file; else one that lists the
   packaged names, nearest first (`did you mean s1k_1.1?`).

A leaf utility (no imports of s1data or s1train): each package passes its own file and folder name.
"""

from __future__ import annotations

import difflib
from pathlib import Path

SUFFIXES = (".yaml", ".yml")


class ResourceNotFound(FileNotFoundError):
    """Neither a path nor a packaged name; the message lists the packaged names."""

    def __str__(self) -> str:  # one line, without FileNotFoundError's errno decoration
        return str(self.args[0]) if self.args else ""


def packaged_dir(package_file: str | Path, folder: str) -> Path:
    """`<package>/<folder>` in an installed wheel, else `<checkout>/<folder>` beside the package."""
    package = Path(package_file).resolve().parent
    shipped = package / folder
    return shipped if shipped.is_dir() else package.parent / folder


def packaged_names(root: Path) -> list[str]:
    """The YAML files under `root` as names: relative, `/`-separated, without the suffix (sorted)."""
    if not root.is_dir():
        return []
    names = {p.relative_to(root).with_suffix("").as_posix()
             for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()}
    return sorted(names)


def _strip(value: str, prefix: str) -> str:
    name = value.replace("\\", "/")
    name = name[2:] if name.startswith("./") else name
    name = name[len(prefix) + 1:] if name.startswith(prefix + "/") else name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve(value: str | Path, root: Path, *, kind: str, prefix: str | None = None) -> Path:
    """`value` as an existing file, else the packaged YAML it names under `root` (a folder is neither).

    `kind` names the thing in the error ("config", "recipe"); `prefix` is the checkout folder (`configs`,
    `recipes`) whose spelling `configs/s1k.yaml` is accepted outside a checkout too.
    """
    path = Path(value).expanduser()
    if path.is_file():
        return path
    name = _strip(str(value), prefix or root.name)
    for suffix in SUFFIXES:
        candidate = root / f"{name}{suffix}"
        if name and candidate.is_file():
            return candidate
    if path.is_dir():
        raise ResourceNotFound(f"{kind} {str(value)!r} is a folder, not a {kind} file, and no packaged {kind} "
                               f"has that name; pass the path of a {kind} YAML file")
    names = packaged_names(root)
    if not names:
        raise ResourceNotFound(f"{kind} {str(value)!r}: no such file, and no packaged {kind}s are installed "
                               f"(looked in {root}); pass the path of a {kind} file")
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(near)}? " if near else ""
    raise ResourceNotFound(f"{kind} {str(value)!r}: no such file and no packaged {kind} of that name; {hint}"
                           f"packaged {kind}s: {', '.join(names)}")
