"""Caches and checkpoints that an interrupted run can never leave broken.

Heavy sweeps are computed once by the scripts in ``scripts/`` and stored under ``data/``; notebooks
read them so that sliders answer at once. Every write goes to a temporary file in the same folder
and is moved into place with ``os.replace``, which is atomic on POSIX and Windows: a reader sees the
old file or the new one, never half of one. Checkpoints are plain state dicts, loaded with
``weights_only=True`` so that opening a file cannot run code.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("LABKIT_DATA", REPO_DIR / "data"))


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary file and an atomic rename.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> atomic_write_bytes(p, b"ok").read_bytes()
    b'ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_json(path, obj: Any) -> Path:
    """Store ``obj`` as indented JSON, atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def load_json(path) -> Any:
    """Read a JSON file written by :func:`save_json`."""
    return json.loads(Path(path).read_text())


def save_npz(path, **arrays) -> Path:
    """Store named arrays as a compressed ``.npz``, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path) -> dict[str, np.ndarray]:
    """Read a ``.npz`` into a plain dict (no pickled objects allowed)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def cached_json(path, compute: Callable[[], Any], *, recompute: bool = False) -> Any:
    """Return the JSON stored at ``path``, computing and storing it first if it is missing.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sweep.json"
    >>> cached_json(p, lambda: {"acc": [0.9]})
    {'acc': [0.9]}
    """
    path = Path(path)
    if path.exists() and not recompute:
        return load_json(path)
    result = compute()
    save_json(path, result)
    return load_json(path)  # what callers get is exactly what a later cache hit returns


def save_state_dict(model: torch.nn.Module, path) -> Path:
    """Save ``model.state_dict()`` (tensors only), atomically."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_state_dict(model: torch.nn.Module, path, *, strict: bool = True) -> torch.nn.Module:
    """Load a checkpoint written by :func:`save_state_dict` with ``weights_only=True``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=strict)
    return model
