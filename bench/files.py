"""File reading: time and peak memory per file, and the cost of reading in a child process.

Usage: python bench/files.py [--runs 5] [--large]

For every fixture of tests/fixtures/files/ (and, with ``--large``, three large documents made here:
a 1,000-page PDF, a 5,000-paragraph Word file and a 300-slide deck) prints:

- ``isolated``: median wall time (one run for the large documents) of ``read_isolated`` (a fresh child process per file, as the worker
  reads it), start of the interpreter and import of the reader's libraries included;
- ``in-process``: median wall time of ``read_document`` in this (warm) process;
- ``peak MB``: the peak resident memory of a child process that read the file;
- the outcome (sections read, or the reason the file is refused).

The difference between the first two columns is the isolation's overhead per file.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.files.isolation import read_isolated
from pipelines.files.limits import FileLimits, UnreadableFile
from pipelines.files.readers import read_document

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "files"

#: Reads one file in a fresh process and prints its peak resident memory (kB: VmHWM, which, unlike
#: ru_maxrss, does not count the parent's pages from before the exec).
PEAK_CHILD = """
import sys
from pipelines.files.limits import FileLimits, UnreadableFile
from pipelines.files.readers import read_document
try:
    read_document(sys.argv[1], sys.stdin.buffer.read(), FileLimits())
except UnreadableFile:
    pass
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


def large_files() -> dict[str, bytes]:
    """A long PDF, a long Word file and a long deck, made with the fixture script's helpers."""
    sys.path.insert(0, str(FIXTURES))
    from make_fixtures import pdf, slides, word  # type: ignore[import-not-found]

    line = "Sourdough hydration, 르뱅 먹이 주기와 1차 발효 시간을 기록한다. Bulk ferment notes."
    pages = [[f"{page}. {line}"] * 40 for page in range(1000)]
    blocks = [("h" if i % 50 == 0 else "p", f"{i} {line}") for i in range(5000)]
    deck = [(f"Slide {i}", [line, line], "notes " + line) for i in range(300)]
    return {
        "large-1000-pages.pdf": pdf(pages, "Large PDF"),
        "large-5000-paragraphs.docx": word("Large Word", blocks),
        "large-300-slides.pptx": slides("Large deck", deck),
    }


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(UnreadableFile):
            run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def outcome(name: str, data: bytes, limits: FileLimits) -> str:
    try:
        document = read_document(name, data, limits)
    except UnreadableFile as error:
        return f"refused: {error}"[:90]
    return f"{len(document.sections)} {document.section_role}s, {sum(map(len, document.sections))} chars"


def peak_mb(name: str, data: bytes) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_CHILD, name], input=data, capture_output=True, check=True, timeout=600
    )
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="also three large generated documents")
    args = parser.parse_args()
    limits = FileLimits()
    files = {p.name: p.read_bytes() for p in sorted(FIXTURES.glob("f*_*")) if p.suffix != ".py"}
    if args.large:
        files.update(large_files())
    for name, data in files.items():  # warm this process's imports before timing in-process reads
        outcome(name, data, limits)
    print(f"limits: {limits}")
    print(f"{'file':32} {'KB':>7} {'isolated s':>10} {'in-proc s':>9} {'peak MB':>7}  outcome")
    overheads = []
    for name, data in files.items():
        runs = 1 if name.startswith("large") else args.runs
        isolated = median_seconds(lambda n=name, d=data: read_isolated(n, d, limits), runs)
        local = median_seconds(lambda n=name, d=data: read_document(n, d, limits), runs)
        overheads.append(isolated - local)
        print(
            f"{name[:32]:32} {len(data) / 1024:7.0f} {isolated:10.2f} {local:9.2f} "
            f"{peak_mb(name, data):7.0f}  {outcome(name, data, limits)}"
        )
    print(f"isolation overhead per file: median {statistics.median(overheads):.2f} s")


if __name__ == "__main__":
    main()
