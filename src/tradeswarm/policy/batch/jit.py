"""Kernels compiled with numba and cached on disk, so that a second process start reuses
the machine code (``batch.kernel`` generates them).

A kernel's source is written as a module file named by the SHA-256 of its text,
``<cache>/k<digest>.py``, imported as a real module (so a traceback shows its lines) and
compiled with numba ``cache=True``: numba keeps the machine code beside it, in
``__pycache__/k<digest>.kernel-*.nbi`` / ``.nbc``, and loads it in the next process instead
of compiling again. A changed policy set (or signature, or generator) is a different text,
hence a different file and a different kernel.

The cache directory is ``$TRADESWARM_CACHE_DIR/kernels``, else
``$XDG_CACHE_HOME/tradeswarm/kernels``, else ``~/.cache/tradeswarm/kernels``, made with mode
0700. Nothing in it is trusted blindly:

- the module file must hold exactly the generated text (else it is written again, and the
  machine code beside it removed: compiled afresh);
- numba's files are checked against a manifest of their SHA-256 written when they were
  made (``k<digest>.manifest.json``); any mismatch, a missing manifest or a failed load
  removes them and compiles afresh;
- a directory that is not ours (another owner, writable by group or others: anyone else
  could plant machine code there) or that cannot be written is not used: the kernel is
  compiled in memory instead (``KernelCache.problem`` says why, and the plan's entry
  says ``kernel (in memory: ...)``). Compiling in memory costs the same as the first time,
  every time, and changes no decision.

The manifest guards against corruption and stale files, not against someone who may
write the directory: that is why a directory others may write is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import linecache
import logging
import os
import stat
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ENV = "TRADESWARM_CACHE_DIR"
_SERIAL = itertools.count(1)


def default_dir() -> Path:
    """Where kernels are cached (see the module docstring)."""
    base = os.environ.get(ENV)
    if base:
        return Path(base) / "kernels"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "tradeswarm" / "kernels"


def _usable(directory: Path) -> str | None:
    """None when the directory is ours and writable, else why not."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        return f"cannot create {directory}: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{directory} is not a directory"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"{directory} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{directory} is writable by others"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"{directory} is not writable"
    return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class Compiled:
    """A compiled kernel: the function, where its source lives, and whether its machine
    code was loaded from the cache (``hits``) or compiled now (``misses``)."""

    fn: Any
    filename: str
    cached: bool
    hits: int
    misses: int


class KernelCache:
    """Compiles kernel sources with numba, through the cache directory when it is usable."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_dir()
        self.problem = _usable(self.directory)
        if self.problem is not None:
            log.warning("kernel cache not used (compiled in memory): %s", self.problem)
        self._loaded: dict[str, Compiled] = {}  # this process's kernels, by source digest

    def compile(self, source: str) -> Compiled:
        """The kernel of ``source`` (its ``kernel`` and ``SIGNATURE``), compiled once per
        process."""
        data = source.encode()
        name = f"k{_digest(data)[:40]}"
        found = self._loaded.get(name)
        if found is None:
            found = self._loaded[name] = self._compile(source, data, name)
        return found

    def _compile(self, source: str, data: bytes, name: str) -> Compiled:
        if self.problem is not None:
            return _in_memory(source)
        path = self.directory / f"{name}.py"
        fresh = not path.exists() or path.read_bytes() != data
        if fresh:
            _write(path, data)
        manifest = self.directory / f"{name}.manifest.json"
        if fresh or not _manifest_holds(manifest, self.directory):
            _purge(self.directory, name, manifest)
        try:
            compiled = _from_file(path, name)
        except Exception as exc:  # a cache file numba could not load: never trusted
            log.warning("kernel cache %s not loaded, compiling afresh: %s", name, exc)
            _purge(self.directory, name, manifest)
            compiled = _from_file(path, name)
        _write_manifest(manifest, self.directory, name)
        return compiled


_SHARED: dict[Path, KernelCache] = {}


def shared_cache() -> KernelCache:
    """The process's cache over ``default_dir()`` (made on first use)."""
    directory = default_dir()
    found = _SHARED.get(directory)
    if found is None:
        found = _SHARED[directory] = KernelCache(directory)
    return found


def _numba_files(directory: Path, name: str) -> list[Path]:
    cache = directory / "__pycache__"
    if not cache.is_dir():
        return []
    return sorted(p for p in cache.iterdir() if p.name.startswith(f"{name}."))


def _manifest_holds(manifest: Path, directory: Path) -> bool:
    """Whether numba's files for the module are exactly the ones the manifest lists."""
    try:
        listed = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(listed, dict):
        return False
    name = manifest.name.removesuffix(".manifest.json")
    found = {p.name: _digest(p.read_bytes()) for p in _numba_files(directory, name)}
    return bool(found) and found == listed


def _write_manifest(manifest: Path, directory: Path, name: str) -> None:
    found = {p.name: _digest(p.read_bytes()) for p in _numba_files(directory, name)}
    _write(manifest, json.dumps(found, sort_keys=True).encode())


def _purge(directory: Path, name: str, manifest: Path) -> None:
    for p in [*_numba_files(directory, name), manifest]:
        p.unlink(missing_ok=True)


def _jit(fn: Any, signature: Any, cache: bool) -> Any:
    from numba import njit

    return njit(signature, cache=cache, nogil=True, boundscheck=False)(fn)


def _from_file(path: Path, name: str) -> Compiled:
    module_name = f"tradeswarm_kernels.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # numba's cache finds the module's globals by name
    spec.loader.exec_module(module)
    fn = _jit(module.kernel, module.SIGNATURE, cache=True)
    hits, misses = sum(fn.stats.cache_hits.values()), sum(fn.stats.cache_misses.values())
    return Compiled(fn, str(path), True, hits, misses)


def _in_memory(source: str) -> Compiled:
    """Compiled without the disk: the source under a file name of its own in linecache."""
    filename = f"<cedar kernel {next(_SERIAL)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "tradeswarm_kernels.in_memory"}
    exec(compile(source, filename, "exec"), namespace)  # our own generated code
    fn = _jit(namespace["kernel"], namespace["SIGNATURE"], cache=False)
    weakref.finalize(fn, linecache.cache.pop, filename, None)
    return Compiled(fn, filename, False, 0, 1)
