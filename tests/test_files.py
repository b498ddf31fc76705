"""PDF, Word, PowerPoint and Hangul files: read into source items, hostile files refused and reported.

The fixtures are real files written by the libraries (tests/fixtures/files/make_fixtures.py).
"""

from __future__ import annotations

import io
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from actors.graph_generation import file_limits
from core.settings import Settings
from pipelines.files.isolation import read_isolated
from pipelines.files.limits import MB, FileLimits, UnreadableFile
from pipelines.files.readers import read_document
from pipelines.ingest import UnreadableObject, ingest, parse_object

from helpers import FIXTURES

FILES = FIXTURES / "files"
#: 2026-03-14 09:30 UTC and 2026-04-02 18:05 UTC, the fixtures' metadata times.
CREATED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC).timestamp()
MODIFIED = datetime(2026, 4, 2, 18, 5, tzinfo=UTC).timestamp()

READABLE = {
    # name: (id, title, sections, role, words that must be read)
    "f101_sourdough-notes.pdf": ("f101", "Sourdough baking notes", 2, "page", ["starter doubled", "르뱅은"]),
    "f102_untitled-scan.pdf": ("f102", "untitled scan", 1, "page", ["몬스테라"]),
    "f103_회의록.docx": (
        "f103",
        "주간 회의록 Weekly meeting",
        2,
        "section",
        ["GitHub Actions", "민지 | 4월 10일"],
    ),
    "f104_half-marathon-plan.pptx": (
        "f104",
        "하프마라톤 12주 훈련 Half marathon plan",
        4,
        "slide",
        ["Zone 2 heart rate", "Shin pain: rest a day", "일정 확정 | Fix the schedule"],
    ),
    "f106_edit-locked.pdf": ("f106", "edit locked", 1, "page", ["누구나 열 수 있는 PDF"]),
    "f105_여행계획.hwpx": (
        "f105",
        "오사카 교토 여행 계획",
        4,
        "section",
        ["료칸", "ICOCA", "표 셀 하나\ntable cell two"],
    ),
}

HOSTILE = {
    "f201_encrypted.pdf": "encrypted PDF",
    "f202_corrupt.pdf": "corrupt PDF",
    "f203_not-a-zip.docx": "is a zip archive and this is not one",
    "f204_zip-bomb.docx": "expands to more than 128 MB",
    "f205_entity-bomb.docx": "hostile XML in 'word/document.xml'",
    "f206_entity-bomb.hwpx": "hostile XML in 'Contents/section0.xml'",
    "f207_10000-empty-pages.pdf": "10000 pages, more than the limit of 2000",
    "f208_scanned-image.pdf": "no text layer",
    "f209_legacy.hwp": "HWP 5 binary documents are not read",
}


def fixture(name: str) -> bytes:
    return (FILES / name).read_bytes()


@pytest.mark.parametrize("name", sorted(READABLE))
def test_each_format_becomes_a_source_item(name: str) -> None:
    orig_id, title, sections, role, words = READABLE[name]
    (item,) = parse_object(f"graph-generation/t/files/{name}", fixture(name))
    assert (item.orig_id, item.title, item.source_type) == (orig_id, title, "file")
    assert item.num_sections == sections and {m.role for m in item.messages} == {role}
    for word in words:
        assert word in item.text, word
    assert item.create_time == CREATED and item.update_time == MODIFIED


def test_an_unknown_kind_under_files_is_refused_with_its_reason() -> None:
    result = ingest([("p/files/f9_budget.xlsx", b"PK\x03\x04"), ("p/files/f8_old.doc", b"\xd0\xcf")])
    assert result.skipped == [
        ("p/files/f9_budget.xlsx", "unsupported file type: f9_budget.xlsx"),
        ("p/files/f8_old.doc", "unsupported file type: f8_old.doc"),
    ]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_bad_file_is_refused_with_its_reason(name: str) -> None:
    with pytest.raises(UnreadableObject, match=HOSTILE[name].replace("(", r"\(")):
        parse_object(f"graph-generation/t/files/{name}", fixture(name))


def test_a_bundle_keeps_the_readable_files_and_reports_the_rest() -> None:
    names = sorted(READABLE) + sorted(HOSTILE)
    result = ingest([(f"p/files/{name}", fixture(name)) for name in names])
    assert [i.orig_id for i in result.items] == [READABLE[n][0] for n in sorted(READABLE)]
    reasons = dict(result.skipped)
    assert set(reasons) == {f"p/files/{name}" for name in HOSTILE}
    for name, reason in HOSTILE.items():
        assert reason in reasons[f"p/files/{name}"]


def test_a_file_outside_files_keeps_its_whole_name_as_id() -> None:
    (item,) = parse_object("uploads/report_final.pdf", fixture("f102_untitled-scan.pdf"))
    assert (item.orig_id, item.title) == ("report_final", "report final")


def test_an_hwpx_named_hwp_is_read_and_a_docx_named_pptx_is_refused() -> None:
    (item,) = parse_object("p/files/f9_plan.hwp", fixture("f105_여행계획.hwpx"))
    assert item.title == "오사카 교토 여행 계획"
    with pytest.raises(UnreadableObject, match="not a readable PowerPoint deck: ValueError"):
        parse_object("p/files/f9_deck.pptx", fixture("f103_회의록.docx"))


def test_page_and_size_limits_are_configurable() -> None:
    one_page = FileLimits(max_pages=1)
    with pytest.raises(UnreadableFile, match="2 pages, more than the limit of 1"):
        read_document("a.pdf", fixture("f101_sourdough-notes.pdf"), one_page)
    with pytest.raises(UnreadableFile, match="4 slides, more than the limit of 1"):
        read_document("a.pptx", fixture("f104_half-marathon-plan.pptx"), one_page)
    with pytest.raises(UnreadableFile, match=r"expands to more than 64 KB \(limit\)"):
        read_document("a.docx", fixture("f103_회의록.docx"), FileLimits(max_expanded_bytes=64 * 1024))
    many = FileLimits(max_pages=20_000)
    with pytest.raises(UnreadableFile, match="no text layer in 10000 page"):
        read_document("a.pdf", fixture("f207_10000-empty-pages.pdf"), many)


def test_a_bomb_within_the_size_limit_is_refused_for_its_ratio() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (8 * MB))
    with pytest.raises(UnreadableFile, match=r"expands \d+ times \(limit 200\): a zip bomb"):
        read_document("a.docx", buffer.getvalue(), FileLimits())


def test_text_is_cut_at_the_character_limit() -> None:
    document = read_document("a.pptx", fixture("f104_half-marathon-plan.pptx"), FileLimits(max_chars=30))
    assert sum(len(s) for s in document.sections) == 30


def test_the_reader_process_is_killed_at_the_time_limit() -> None:
    limits = FileLimits(max_pages=20_000, timeout_seconds=0.3)
    with pytest.raises(UnreadableFile, match=r"reading took longer than 0.3 s \(limit\)"):
        read_isolated("slow.pdf", fixture("f207_10000-empty-pages.pdf"), limits)


def test_files_after_the_tasks_deadline_are_refused() -> None:
    spent = FileLimits(deadline=time.monotonic() - 1)
    with pytest.raises(UnreadableFile, match="the task's time for reading files is spent"):
        read_isolated("a.pdf", fixture("f101_sourdough-notes.pdf"), spent)
    almost = FileLimits(max_pages=20_000, deadline=time.monotonic() + 0.3)
    with pytest.raises(UnreadableFile, match="the task's time for reading files is spent"):
        read_isolated("a.pdf", fixture("f207_10000-empty-pages.pdf"), almost)


def test_a_reader_out_of_memory_is_a_reason_not_a_crash() -> None:
    with pytest.raises(UnreadableFile, match="needs more than 40 MB to read"):
        read_isolated("a.docx", fixture("f103_회의록.docx"), FileLimits(memory_bytes=40 * MB))


def test_isolated_and_in_process_reads_agree() -> None:
    for name in READABLE:
        assert read_isolated(name, fixture(name), FileLimits()) == read_document(
            name, fixture(name), FileLimits()
        )


def test_reads_from_worker_threads_at_once_are_independent() -> None:
    """Dramatiq runs actors on threads: two threads reading files at once, one of them timing out."""
    slow = FileLimits(max_pages=20_000, timeout_seconds=0.3)

    def read(name: str) -> str:
        limits = slow if name.startswith("f207") else FileLimits()
        try:
            return read_isolated(name, fixture(name), limits).kind
        except UnreadableFile as error:
            return str(error)

    names = ["f207_10000-empty-pages.pdf", *sorted(READABLE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = dict(zip(names, pool.map(read, names), strict=True))
    assert outcomes.pop("f207_10000-empty-pages.pdf").startswith("reading took longer than 0.3 s")
    assert outcomes == {name: name.rsplit(".", 1)[1] for name in READABLE}


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILE_MAX_EXPANDED_MB", "64")
    monkeypatch.setenv("FILE_MAX_PAGES", "300")
    monkeypatch.setenv("FILE_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("FILE_MEMORY_MB", "512")
    monkeypatch.setenv("FILE_TASK_SECONDS", "120")
    limits = file_limits(Settings())
    assert (limits.max_expanded_bytes, limits.max_pages) == (64 * MB, 300)
    assert (limits.timeout_seconds, limits.memory_bytes) == (12.5, 512 * MB)
    assert limits.deadline is not None and 119 < limits.deadline - time.monotonic() <= 120
