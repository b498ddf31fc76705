"""Tokenisation, stop words, glossing and keywords in Korean and English."""

from __future__ import annotations

from pipelines.keywords import extract_keywords
from pipelines.text import (
    ENGLISH_STOP,
    KIWI_PIECE_CHARS,
    KOREAN_STOP,
    TextAnalyzer,
    english_lemma,
    load_lexicon,
    pieces,
)

ANALYZER = TextAnalyzer()


def test_korean_nouns_without_particles_or_endings() -> None:
    analysis = ANALYZER.analyze("파이썬에서 딕셔너리 리스트를 특정 키로 정렬하려면 어떻게 해?")
    assert {"파이썬", "딕셔너리", "리스트", "정렬"} <= set(analysis.terms)
    assert not {"에서", "를", "어떻게", "하려면"} & set(analysis.terms)


def test_roles_markup_and_stop_words_are_dropped() -> None:
    text = "user: **How** do I `sort` a list?\n```python\nsorted(x)\n```\nassistant: See https://docs.python.org ## Sorting"
    terms = set(ANALYZER.analyze(text).terms)
    assert "sort" in terms and "list" in terms and "sorting" in terms
    assert not {"user", "assistant", "how", "do", "i", "a", "https", "**how**", "##"} & terms
    assert "sorted" not in terms  # code blocks are not keywords


def test_code_switched_text_keeps_both_languages() -> None:
    analysis = ANALYZER.analyze("docker compose에서 volume이 안 붙어요")
    assert {"docker", "compose", "volume"} <= set(analysis.terms)
    assert analysis.korean_share < 1.0


def test_korean_is_glossed_into_english() -> None:
    lexicon = load_lexicon()
    assert len(lexicon) > 1000
    analysis = ANALYZER.analyze("빵 반죽을 발효시키는 방법")
    assert any(word in analysis.features for word in lexicon["빵"])
    assert any(word in analysis.english_view.split() for word in lexicon["빵"])


def test_english_lemmas() -> None:
    assert [english_lemma(w) for w in ["Recipes", "batteries", "boxes", "class", "bus", "Python's"]] == [
        "recipe", "battery", "box", "class", "bus", "python",
    ]  # fmt: skip


def test_stop_lists_cover_chat_roles() -> None:
    assert {"user", "assistant", "system"} <= ENGLISH_STOP
    assert {"사용자", "질문", "답변", "것"} <= KOREAN_STOP


def test_keywords_rank_distinctive_terms() -> None:
    texts = [
        "sourdough starter feeding flour water sourdough",
        "kubernetes pod restart deployment kubernetes",
        "김치찌개 끓이는 법 돼지고기 김치",
    ]
    keywords = extract_keywords(ANALYZER.analyze_many(texts))
    assert keywords[0][0].term == "sourdough"
    assert keywords[1][0].term == "kubernetes"
    assert {k.term for k in keywords[2]} >= {"김치찌개", "돼지고기"}
    for row in keywords:
        scores = [k.score for k in row]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


def test_long_text_is_cut_into_pieces_at_line_and_sentence_ends() -> None:
    text = ("첫 문장이다. 둘째 문장이다.\n" * 40) + "끝"
    cut = pieces(text, limit=100)
    assert "".join(cut) == text
    assert all(len(piece) <= 100 for piece in cut)
    assert all(piece.endswith(("\n", ".")) for piece in cut[:-1])
    assert pieces("짧은 글", limit=100) == ["짧은 글"]


def test_text_without_spaces_is_cut_hard() -> None:
    text = "가" * 250
    assert [len(piece) for piece in pieces(text, limit=100)] == [100, 100, 50]


def test_a_long_korean_text_is_analysed_piece_by_piece_like_its_parts() -> None:
    """A text longer than one piece (kiwipiepy's time grows with the square of its input) gives the
    terms its paragraphs give one by one."""
    paragraph = "오늘은 파이썬으로 데이터 분석을 했다. 판다스 그룹바이가 느려서 폴라스를 써 봤다.\n"
    copies = 3 * KIWI_PIECE_CHARS // len(paragraph)
    analyzer = TextAnalyzer()
    one = analyzer.analyze(paragraph)
    whole = analyzer.analyze(paragraph * copies)
    assert len(whole.terms) == copies * len(one.terms)
    assert set(whole.terms) == set(one.terms)
