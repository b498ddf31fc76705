"""The child process that reads one file: ``python -m pipelines.files.child``.

Standard input: one JSON line (file name and limits), then the file's bytes. Standard output: one
JSON object, ``{"document": {...}}`` or ``{"error": "reason"}``. Memory (address space) and CPU
time are capped with rlimits once the reader's libraries are loaded, before anything is parsed.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from typing import Any

from pipelines.files.limits import FileLimits, UnreadableFile, size_text
from pipelines.files.readers import read_document, reader_for


def _cap(limit: int, value: int) -> None:
    _soft, hard = resource.getrlimit(limit)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(limit, (value, hard))


def peak_address_space() -> int:
    """The most address space this process has held (``VmPeak``), in bytes; 0 where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def main() -> int:
    """Read the request, read the file, print the answer."""
    header = json.loads(sys.stdin.buffer.readline())
    limits = FileLimits(**header["limits"])
    data = sys.stdin.buffer.read()
    with contextlib.suppress(UnreadableFile):  # the libraries load before the caps: a cap fails parsing only
        reader_for(header["name"])
    _cap(resource.RLIMIT_AS, limits.memory_bytes)
    _cap(resource.RLIMIT_CPU, int(limits.timeout_seconds) + 1)
    answer: dict[str, Any]
    try:
        answer = {"document": read_document(header["name"], data, limits).to_json()}
    except UnreadableFile as error:
        answer = {"error": str(error)}
        if peak_address_space() >= 0.9 * limits.memory_bytes:  # a library's failed allocation, named
            answer = {"error": f"needs more than {size_text(limits.memory_bytes)} to read (limit)"}
    sys.stdout.buffer.write(json.dumps(answer).encode())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
