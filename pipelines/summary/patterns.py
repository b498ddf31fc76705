"""Patterns across time and clusters: repetitions, progressions, gaps and bridges."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from models.summary import Pattern
from pipelines.summary.measure import Analysis, Topic, term_weights
from pipelines.summary.values import month_of, natural
from pipelines.summary.writer import Limits, Writer, spread, unique

#: A silence inside a cluster at least this long, then resumed, is a gap pattern.
RESUMED_GAP_DAYS = 120
#: A cluster (or keyword) seen in at least this many months is a repetition pattern.
REPEAT_MONTHS = 3


def _significance(high: bool, medium: bool) -> str:
    return "high" if high else "medium" if medium else "low"


def _pattern(kind: str, description: str, evidence: list[str], significance: str) -> Pattern:
    return Pattern(
        pattern_type=kind,
        description=description,
        evidence=unique(evidence),
        significance=significance,
    )


def _months_of(analysis: Analysis, positions: list[int]) -> dict[str, int]:
    """Each month with the first (dated, in time order) node of that month."""
    firsts: dict[str, int] = {}
    for p in positions:
        moment = analysis.times[p]
        if moment is not None:
            firsts.setdefault(month_of(moment), p)
    return firsts


def _repetitions(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    """Topics that recur over many months, then the keyword that recurs across most topics."""
    spans = {t.id: _months_of(analysis, t.timeline) for t in analysis.topics.values()}
    recurring = [t for t in analysis.topics.values() if len(spans[t.id]) >= REPEAT_MONTHS]
    recurring.sort(key=lambda t: (-len(spans[t.id]), -len(t.members), natural(t.id)))
    for topic in recurring[: limits.patterns]:
        months = len(spans[topic.id])
        yield _pattern(
            "repetition",
            writer.say(
                "pattern.repetition", name=writer.quote(topic.name), months=writer.count("months", months)
            ),
            [analysis.labels[p] for p in spread(list(spans[topic.id].values()), limits.evidence)],
            _significance(months >= 6, months >= 4),
        )
    if limits.patterns > 1:
        yield from _recurring_term(analysis, writer, limits)


def _recurring_term(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    months: dict[str, set[str]] = defaultdict(set)
    topics: dict[str, set[str]] = defaultdict(set)
    nodes: dict[str, list[int]] = defaultdict(list)
    for p, moment in enumerate(analysis.times):
        for term in analysis.terms[p][:3]:
            if moment is not None:
                months[term].add(month_of(moment))
            topics[term].add(analysis.cluster_of[p])
            nodes[term].append(p)
    candidates = [t for t in months if len(months[t]) >= REPEAT_MONTHS and len(topics[t]) >= 2]
    if not candidates:
        return
    term = min(candidates, key=lambda t: (-len(topics[t]), -len(months[t]), t))
    dated = sorted(
        (p for p in nodes[term] if analysis.times[p] is not None), key=lambda p: (analysis.times[p], p)
    )
    yield _pattern(
        "repetition",
        writer.say(
            "pattern.repetition_term",
            term=writer.quote(term),
            months=writer.count("months", len(months[term])),
            topics=writer.count("topics", len(topics[term])),
        ),
        [analysis.labels[p] for p in spread(dated, limits.evidence)],
        _significance(len(topics[term]) >= 4, len(topics[term]) >= 3),
    )


def _ranked_terms(analysis: Analysis, positions: list[int]) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for p in positions:
        for term, score in term_weights(analysis.graph.nodes[p]):
            totals[term] += score
    return [t for t, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def _progressions(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    """The shift of attention between topics, then topics whose own keywords moved over time."""
    yield from _shift(analysis, writer, limits)
    candidates = [
        t
        for t in analysis.topics.values()
        if len(t.timeline) >= 4 and len(_months_of(analysis, t.timeline)) >= 2
    ]
    candidates.sort(key=lambda t: (-len(t.timeline), natural(t.id)))
    found = 0
    for topic in candidates:
        half = len(topic.timeline) // 2
        early_terms = _ranked_terms(analysis, topic.timeline[:half])
        late_terms = _ranked_terms(analysis, topic.timeline[half:])
        early = [t for t in early_terms[:5] if t not in late_terms[:5]][:2]
        late = [t for t in late_terms[:5] if t not in early_terms[:5]][:2]
        if not early or not late:
            continue
        months = len(_months_of(analysis, topic.timeline))
        yield _pattern(
            "progression",
            writer.say(
                "pattern.progression",
                name=writer.quote(topic.name),
                early=writer.join(early),
                late=writer.join(late),
            ),
            [analysis.labels[p] for p in spread(topic.timeline, limits.evidence)],
            _significance(months >= 6 and len(topic.timeline) >= 8, len(topic.timeline) >= 5),
        )
        found += 1
        if found >= limits.patterns:
            return


def _shift(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    dated = sorted(
        (p for p, t in enumerate(analysis.times) if t is not None), key=lambda p: (analysis.times[p], p)
    )
    if len(dated) < 6 or len(analysis.topics) < 2:
        return
    halves = dated[: len(dated) // 2], dated[len(dated) // 2 :]
    counts = [Counter(analysis.cluster_of[p] for p in half) for half in halves]
    early, late = (min(c.items(), key=lambda kv: (-kv[1], natural(kv[0])))[0] for c in counts)
    if early == late or counts[0][early] <= 2 * counts[1][early] or counts[1][late] <= 2 * counts[0][late]:
        return
    evidence = [p for p in halves[0] if analysis.cluster_of[p] == early][:2]
    evidence += [p for p in halves[1] if analysis.cluster_of[p] == late][-2:]
    yield _pattern(
        "progression",
        writer.say(
            "pattern.shift",
            early=writer.quote(analysis.topics[early].name),
            late=writer.quote(analysis.topics[late].name),
        ),
        [analysis.labels[p] for p in evidence][: limits.evidence],
        "medium",
    )


def _gaps(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    """Dormant topics, then topics that went silent for a long time and came back."""
    n = len(analysis.graph.nodes)
    dormant = sorted(
        (t for t in analysis.topics.values() if t.state == "dormant"),
        key=lambda t: (-len(t.members), natural(t.id)),
    )
    for topic in dormant[: limits.patterns]:
        last = topic.timeline[-1]
        moment = analysis.times[last]
        assert moment is not None
        yield _pattern(
            "gap",
            writer.say(
                "pattern.gap",
                name=writer.quote(topic.name),
                days=writer.count("days", int(analysis.age_days(last))),
                month=month_of(moment),
            ),
            [analysis.labels[p] for p in reversed(topic.timeline[-limits.evidence :])],
            _significance(len(topic.members) >= max(5, 0.1 * n), len(topic.members) >= 3),
        )
    yield from _resumed(analysis, writer, max(0, limits.patterns - len(dormant)))


def _longest_silence(analysis: Analysis, topic: Topic) -> tuple[float, int, int]:
    best = (0.0, -1, -1)
    for before, after in zip(topic.timeline, topic.timeline[1:], strict=False):
        days = analysis.age_days(before) - analysis.age_days(after)
        if days > best[0]:
            best = (days, before, after)
    return best


def _resumed(analysis: Analysis, writer: Writer, limit: int) -> Iterator[Pattern]:
    silences = []
    for topic in analysis.topics.values():
        if topic.state != "dormant" and len(topic.timeline) >= 2:
            days, before, after = _longest_silence(analysis, topic)
            if days >= RESUMED_GAP_DAYS:
                silences.append((days, topic, before, after))
    silences.sort(key=lambda s: (-s[0], natural(s[1].id)))
    for days, topic, before, after in silences[:limit]:
        moment = analysis.times[after]
        assert moment is not None
        yield _pattern(
            "gap",
            writer.say(
                "pattern.gap_resumed",
                name=writer.quote(topic.name),
                days=writer.count("days", int(days)),
                month=month_of(moment),
            ),
            [analysis.labels[before], analysis.labels[after]],
            _significance(False, days >= 2 * RESUMED_GAP_DAYS),
        )


def _bridges(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Pattern]:
    """Nodes whose edges reach into other clusters, the most far-reaching first."""
    reach = {
        p: {analysis.cluster_of[q] for _, q in links} for p, links in enumerate(analysis.bridges) if links
    }
    ranked = sorted(reach, key=lambda p: (-len(reach[p]), -sum(w for w, _ in analysis.bridges[p]), p))
    strong = [p for p in ranked if len(reach[p]) >= 2 or len(analysis.bridges[p]) >= 2] or ranked[:1]
    for p in strong[: limits.patterns]:
        clusters = sorted(reach[p] | {analysis.cluster_of[p]}, key=natural)
        neighbours = sorted(analysis.bridges[p], key=lambda wq: (-wq[0], wq[1]))
        yield _pattern(
            "bridge",
            writer.say(
                "pattern.bridge",
                title=writer.quote(analysis.labels[p]),
                topics=writer.count("topics", len(clusters)),
                names=writer.names([analysis.topics[c].name for c in clusters[:4]]),
            ),
            [analysis.labels[p]] + [analysis.labels[q] for _, q in neighbours[: limits.evidence - 1]],
            _significance(len(reach[p]) >= 3, len(reach[p]) >= 2),
        )


def find_patterns(analysis: Analysis, writer: Writer, limits: Limits) -> list[Pattern]:
    """Repetitions, progressions, gaps and bridges, in that order."""
    return [
        *_repetitions(analysis, writer, limits),
        *_progressions(analysis, writer, limits),
        *_gaps(analysis, writer, limits),
        *_bridges(analysis, writer, limits),
    ]
