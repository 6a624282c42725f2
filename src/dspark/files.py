"""Where dspark keeps its files (`cache_root`), atomic writes: the one helper for every file or
directory a kill must not leave half-written (SPS tables, training checkpoints and logs, prompt sets,
feature-cache manifests), and the one safetensors writer and reader (`save_safetensors`,
`load_safetensors`)."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import DSparkError


def cache_root() -> Path:
    """Converted models, packed weights, built kernels and SPS tables: $DSPARK_HOME or ~/.cache/dspark."""
    return Path(os.environ.get("DSPARK_HOME", Path.home() / ".cache" / "dspark"))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()


def _fsync(p: Path) -> None:
    files = [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()]
    for q in files:
        with open(q, "rb") as f:
            os.fsync(f.fileno())


def _fsync_dir(d: Path) -> None:
    try:  # makes the rename itself durable; not every platform can open a directory
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = False) -> Iterator[Path]:
    """Yields a temporary sibling of `path` to write (a file, or a directory the caller creates);
    when the block ends without an exception it takes `path`'s place in one rename, so a reader or
    a crash sees the old content or the new, never a part. A directory that already exists at
    `path` is removed just before the rename (two steps: a crash between them loses the old one,
    which is why callers keep a pointer or a previous copy). durable: fsync the data and the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    _remove(tmp)
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        if tmp.is_dir() and path.exists():
            _remove(path)
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            _remove(tmp)


def write_text_atomic(path: str | os.PathLike, text: str, durable: bool = False) -> Path:
    with atomic_path(path, durable) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_safetensors(tensors: dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """safetensors.torch.save_file, and the file gets the mode any new file gets (0o666 under the
    umask): safetensors 0.8 writes through a temporary file created 0o600 (safetensors issue 782),
    so a drafter trained or exported by one user would be unreadable to the service that loads it."""
    from safetensors.torch import save_file
    save_file(tensors, str(path), metadata=metadata)
    os.chmod(path, 0o666 & ~_umask())
    return Path(path)


def load_safetensors(path: str | os.PathLike, device: str = "cpu") -> dict:
    """safetensors.torch.load_file, with a missing, truncated or garbled file reported as a
    DSparkError that names it (safetensors raises several exception types for those)."""
    from safetensors.torch import load_file
    if not Path(path).is_file():
        raise DSparkError(f"weights file {path} is missing")
    try:
        return load_file(str(path), device=str(device))
    except Exception as e:
        raise DSparkError(f"corrupt weights file {path}: {e}") from None
