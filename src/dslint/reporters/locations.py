"""Where the repository root is, and finding paths relative to it.

GitHub resolves annotation and SARIF paths against the repository root, while findings carry
paths as the user gave them (relative to the working directory). The root is the nearest
folder above the working directory that holds ``.git``; without one, the working directory.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote


def repository_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def relative_to_root(path: str, root: Path) -> str | None:
    """``path`` as a POSIX path relative to ``root``, or None when it lies outside it."""
    if not path:
        return None
    try:
        relative = Path(path).resolve().relative_to(root)
    except (ValueError, OSError):
        return None
    return PurePosixPath(relative).as_posix()


def uri_reference(posix_path: str) -> str:
    """A relative URI reference for a POSIX path (spaces, ``#``, ``%`` and the like encoded)."""
    return quote(posix_path, safe="/")


def file_uri(path: Path) -> str:
    """An absolute ``file:`` URI; folders end with a slash, as SARIF base URIs must."""
    uri = path.resolve().as_uri()
    return uri if not path.is_dir() or uri.endswith("/") else uri + "/"
