"""One file read in a child process, so that no file can take the worker down or stall it.

A fresh interpreter per file (``subprocess``: fork-and-exec, safe from Dramatiq's worker threads)
runs in its own session under an address-space rlimit and a CPU rlimit, and is killed at the
wall-clock timeout. Its death, for any reason, is that file's reported failure. When the worker
stops, a running child is waited for like the rest of the task (at most the timeout); a child left
behind by a killed worker ends by its CPU limit or at the broken pipe of its answer.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict

from pipelines.files.document import FileDocument
from pipelines.files.limits import FileLimits, UnreadableFile, size_text
from pipelines.files.readers import reader_for

#: Bytes of the child's standard error kept for the reason of a crash.
STDERR_TAIL = 300
#: What a process out of address space prints, from Python, the loader or C++.
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "failed to map segment", "bad_alloc")


def read_isolated(name: str, data: bytes, limits: FileLimits) -> FileDocument:
    """The document in ``data`` (file ``name``), read by a child process within ``limits``."""
    reader_for(name)  # an unsupported kind is refused without a process
    timeout = limits.timeout_seconds
    if limits.deadline is not None:
        timeout = min(timeout, limits.deadline - time.monotonic())
        if timeout <= 0:
            raise UnreadableFile("the task's time for reading files is spent (limit)")
    header = json.dumps({"name": name, "limits": asdict(limits)}).encode() + b"\n"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.files.child"],
            input=header + data,
            capture_output=True,
            timeout=timeout,
            check=False,
            start_new_session=True,  # a Ctrl-C or a signal to the worker's group is the worker's
        )
    except subprocess.TimeoutExpired:
        if timeout < limits.timeout_seconds:
            raise UnreadableFile("the task's time for reading files is spent (limit)") from None
        raise UnreadableFile(f"reading took longer than {limits.timeout_seconds:g} s (limit)") from None
    if done.returncode != 0:
        raise UnreadableFile(_death(done.returncode, done.stderr, limits))
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise UnreadableFile("the reader gave no answer") from None
    if "error" in answer:
        raise UnreadableFile(str(answer["error"]))
    return FileDocument.from_json(answer["document"])


def _death(returncode: int, stderr: bytes, limits: FileLimits) -> str:
    """Why a child process died, as a reason for the file."""
    if returncode == -signal.SIGXCPU:
        return f"reading took longer than {limits.timeout_seconds:g} s of CPU (limit)"
    if returncode == -signal.SIGKILL:
        return "the reader was killed (out of memory, or the worker is stopping)"
    text = stderr.decode("utf-8", "replace")
    tail = text.strip().splitlines()[-1:] or [""]
    if returncode in (-signal.SIGSEGV, -signal.SIGABRT) or any(sign in text for sign in MEMORY_SIGNS):
        return f"needs more than {size_text(limits.memory_bytes)} to read (limit)"
    return f"the reader failed (exit {returncode}): {tail[0][-STDERR_TAIL:]}"
