"""Text analysis for Korean and English: clean markup, tokenise, drop stop words, gloss Korean.

Korean goes through kiwipiepy's morphological analyser (nouns and verb/adjective stems, no particles
or endings); Latin-script words through a regular expression with a light English lemmatiser. A
bundled Korean-to-English lexicon glosses Korean nouns and stems with their primary English sense,
so a Korean and an English text on the same topic share features (the "bridge").
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_URL = re.compile(r"https?://\S+|www\.\S+")
_MARKUP = re.compile(r"[#*_>`|~\[\]{}()<>=\\/]+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#'\-]*[A-Za-z0-9+#]|[A-Za-z]")

#: English words that carry no topic in an AI chat: stop words, chat roles, filler and politeness.
ENGLISH_STOP = frozenset(ENGLISH_STOP_WORDS) | {
    "user", "assistant", "system", "chatgpt", "gpt", "tool", "model", "hi", "hello", "hey", "thanks",
    "thank", "please", "sure", "yes", "yeah", "ok", "okay", "like", "want", "need", "help", "know",
    "think", "make", "get", "got", "use", "using", "used", "way", "good", "great", "really", "just",
    "lot", "lots", "thing", "things", "something", "anything", "maybe", "bit", "etc", "can", "could",
    "would", "should", "will", "let", "ll", "ve", "re", "don", "doesn", "didn", "isn", "aren", "won",
    "im", "tell", "give", "try", "question", "answer", "example", "also", "actually", "probably",
    "usually", "especially", "instead", "simply", "basically", "quite", "pretty", "sounds", "sound",
    "mean", "means", "say", "said", "does", "did", "doing", "done", "going", "gonna", "look", "looks",
    "kind", "stuff", "time", "times", "day", "days", "week", "weeks", "today", "yesterday",
    "tomorrow", "best", "better", "right", "new", "old", "different", "same", "first", "second",
    "step", "steps", "work", "works", "working", "start", "started", "keep", "find", "take", "takes",
    "able", "idea", "ideas", "tips", "tip", "option", "options", "case", "point", "part",
    "number", "little", "big", "long", "short", "high", "low", "small", "large", "hour", "hours",
    "minute", "minutes", "year", "years", "month", "months", "enough", "everything",
    "nothing", "anyone", "someone", "people", "person", "it's", "i'm", "don't", "can't", "that's",
    "what's", "let's", "you're", "i've", "i'd", "you'll", "there's", "doesn't", "isn't", "won't",
    "didn't", "aren't", "wouldn't", "shouldn't", "couldn't", "s", "t", "d", "m",
}  # fmt: skip

#: Korean nouns that carry no topic: bound nouns, pronouns, chat filler, generic request words.
KOREAN_STOP = frozenset(
    """
    것 수 때 거 등 점 중 내 번 뭐 좀 데 곳 분 개 명 게 건 걸 쪽 편 뿐 바 줄
    만큼 대로 듯 적 정도 경우 방법 부분 이유 생각 질문 답변 설명 사용 추천 가능 필요
    문제 도움 감사 이번 오늘 지금 다음 이후 이전 하나 여기 거기 저기 무엇 어디 누구
    자신 우리 저희 사람 내용 관련 대해 위해 통해 정말 혹시 요즘 조금 느낌 상황 결과
    이상 이하 기본 일반 종류 차이 비교 예시 예 방식 형태 사항 부탁 확인 정리 시작
    진행 준비 선택 고민 의견 답 말 얘기 이야기 처음 마지막 전 후 안 밖 위 아래 앞
    뒤 사이 동안 하루 주 달 년 시간 분간 오전 오후 날 요일 월 일 씨 사용자
    어시스턴트 유저 챗 지피티 최근 보통 전체 각각 모두 모든 다른 여러 대부분 자체 실제
    """.split()
)

#: Verb and adjective stems that carry no topic.
KOREAN_STOP_STEMS = frozenset(
    """
    하 되 있 없 같 이 아니 않 보 주 싶 알 모르 좋 괜찮 그렇 어떻 이렇 저렇 말 나
    오 가 두 받 쓰 만들 생기 지 드리 대하 위하 통하 필요하 가능하 궁금하 감사하 그러
    어떠 이러
    """.split()
)

#: Texts per call into kiwipiepy (its token objects are large; converted batch by batch).
KIWI_BATCH = 256
#: Longest piece of text kiwipiepy is given at once: its time grows with the square of one input's
#: length (400,000 Korean characters: 25.6 s whole, 1.5 s in pieces of 10,000), so a long text is cut.
KIWI_PIECE_CHARS = 10_000
_KOREAN_NOUN_TAGS = ("NNG", "NNP", "XR")
_KOREAN_STEM_TAGS = ("VV", "VA")


#: Words ending in "s" that are not plurals.
_PLURAL_LOOKALIKES = frozenset(
    "kubernetes windows news series species aws postgres redis macos ios js css dns https sass gas yes "
    "always perhaps whereas besides sometimes lens canvas atlas alias bias".split()
)


@lru_cache(maxsize=1)
def load_lexicon() -> dict[str, tuple[str, ...]]:
    """The bundled Korean-to-English lexicon: Korean noun or stem -> English words."""
    lexicon: dict[str, tuple[str, ...]] = {}
    text = resources.files("pipelines").joinpath("data/ko_en_lexicon.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        korean, english = line.split("\t", 1)
        words = tuple(w.strip().lower() for w in english.split("|") if w.strip())
        if korean.strip() and words:
            lexicon.setdefault(korean.strip(), words)
    return lexicon


def clean_text(text: str) -> str:
    """Remove code blocks, URLs and markdown markup."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _URL.sub(" ", text)
    return _MARKUP.sub(" ", text)


def pieces(text: str, limit: int = KIWI_PIECE_CHARS) -> list[str]:
    """``text`` cut into consecutive pieces of at most ``limit`` characters, each ending at the last
    line break, else sentence end, else space of its second half (a hard cut when there is none)."""
    result: list[str] = []
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind("\n"), window.rfind(". "), window.rfind("? "), window.rfind("! "))
        if cut < limit // 2:
            cut = window.rfind(" ")
        stop = start + (cut + 1 if cut >= limit // 2 else limit)
        result.append(text[start:stop])
        start = stop
    result.append(text[start:])
    return result


def has_hangul(text: str) -> bool:
    """Whether ``text`` contains Korean script."""
    return _HANGUL.search(text) is not None


def english_lemma(word: str) -> str:
    """A light English lemmatiser: lower case, possessive and plural endings removed."""
    word = word.lower().strip("'-")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if (
        len(word) > 3
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "os", "ics"))
        and word not in _PLURAL_LOOKALIKES
    ):
        return word[:-1]
    return word


@dataclass(slots=True)
class AnalyzedText:
    """Tokens of one text.

    ``terms`` are the keyword candidates (Korean nouns, English words) in display form;
    ``features`` add Korean stems and the English glosses of Korean words, for similarity;
    ``english_view`` is the text as an English-only reader (the sentence encoder) can take it.
    """

    terms: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    english_view: str = ""
    korean_share: float = 0.0


class TextAnalyzer:
    """Tokenises Korean and English text; one instance is shared and thread-safe."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]] | None = None) -> None:
        self.lexicon = load_lexicon() if lexicon is None else lexicon
        self._kiwi_lock = threading.Lock()
        self._kiwi: object | None = None

    def _kiwi_instance(self) -> object:
        with self._kiwi_lock:
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                self._kiwi = Kiwi(num_workers=-1)
            return self._kiwi

    def analyze_many(self, texts: list[str]) -> list[AnalyzedText]:
        """Analyse texts in one batch (Korean morphology runs multi-threaded)."""
        cleaned = [clean_text(t) for t in texts]
        korean_parts = [_LATIN_WORD.sub(" ", t) if has_hangul(t) else "" for t in cleaned]
        # (text index, piece) for every piece of every Korean part, in order
        korean_pieces = [(i, piece) for i, part in enumerate(korean_parts) if part for piece in pieces(part)]
        morphs: dict[int, list[tuple[str, str]]] = {}
        kiwi = self._kiwi_instance() if korean_pieces else None
        for start in range(0, len(korean_pieces), KIWI_BATCH):
            batch = korean_pieces[start : start + KIWI_BATCH]
            with self._kiwi_lock:
                tokenized = list(kiwi.tokenize([piece for _, piece in batch]))  # type: ignore[attr-defined]
            for (i, _), tokens in zip(batch, tokenized, strict=True):
                # interned: a 10k-conversation history repeats a small vocabulary millions of times
                morphs.setdefault(i, []).extend(
                    (sys.intern(tok.form), tok.tag.split("-")[0]) for tok in tokens
                )
        return [self._build(cleaned[i], morphs.pop(i, [])) for i in range(len(texts))]

    def analyze(self, text: str) -> AnalyzedText:
        """Analyse one text."""
        return self.analyze_many([text])[0]

    def _build(self, cleaned: str, morphs: list[tuple[str, str]]) -> AnalyzedText:
        result = AnalyzedText()
        view: list[str] = []
        korean_tokens = 0
        for form, tag in morphs:
            if tag in _KOREAN_NOUN_TAGS:
                if form in KOREAN_STOP or (len(form) < 2 and form not in self.lexicon):
                    continue
                korean_tokens += 1
                result.terms.append(form)
                result.features.append(form)
            elif tag in _KOREAN_STEM_TAGS:
                if form in KOREAN_STOP_STEMS:
                    continue
                korean_tokens += 1
                result.features.append(form + "다")
            else:
                continue
            glosses = self.lexicon.get(form)
            if glosses:  # the primary sense only: further senses blur topics (bench/quality.py)
                result.features.append(glosses[0])
                view.append(glosses[0])
        english_tokens = 0
        for match in _LATIN_WORD.finditer(cleaned):
            word = match.group(0)
            view.append(word)
            lemma = sys.intern(english_lemma(word))
            if len(lemma) < 2 or lemma in ENGLISH_STOP or lemma.isdigit():
                continue
            english_tokens += 1
            result.terms.append(lemma)
            result.features.append(lemma)
        result.english_view = " ".join(view) if morphs else cleaned
        total = korean_tokens + english_tokens
        result.korean_share = korean_tokens / total if total else 0.0
        return result
