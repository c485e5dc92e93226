"""Writing result files without losing anything: atomically, never through a symlink, and
never over a source of the repository.

:func:`write_text_atomically` writes a temporary file next to the destination and renames
it into place, so that a command stopped mid-write leaves either the old file or the new
one, never half of one; a symlink at the destination is *replaced* by the new file (the
file it points to is left as it was). It refuses to overwrite a file tracked by git (a
source of the course: a chapter, a module, a shipped result) unless the caller says that
this command is the one that writes it (``allow_tracked=True``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

__all__ = ["SourceFileError", "is_tracked_by_git", "refuse_tracked", "write_text_atomically"]


class SourceFileError(FileExistsError):
    """A command was about to overwrite a file tracked by git that it does not write."""


def is_tracked_by_git(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file tracked by the git repository that holds it (``False``
    outside a repository or without git). A symlink is judged by itself, not its target."""
    path = Path(os.path.abspath(path))
    if not path.parent.is_dir():
        return False
    try:
        done = subprocess.run(["git", "ls-files", "--error-unmatch", "--", path.name],
                              cwd=path.parent, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def refuse_tracked(path: str | os.PathLike[str], what: str) -> None:
    """Raise :class:`SourceFileError` if ``path`` (the file of ``what``, e.g. ``"--out"``)
    is tracked by git: a command writes its results into new files or its own files."""
    if is_tracked_by_git(path):
        raise SourceFileError(
            f"{what}: {path} is a file tracked by git (a source of the course), not an output "
            "of this command; refusing to overwrite it. Choose another path (e.g. under "
            "_build/), or restore the file with `git checkout -- <file>` if it was meant to be "
            "replaced by hand.")


def write_text_atomically(path: str | os.PathLike[str], text: str, *, what: str = "output",
                          allow_tracked: bool = False) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    A symlink at ``path`` is replaced by a regular file, never written through. A file
    tracked by git is refused (:class:`SourceFileError`, naming ``what``) unless
    ``allow_tracked``. Parent folders are created. Returns ``path``.
    """
    path = Path(path)
    if not allow_tracked:
        refuse_tracked(path, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
