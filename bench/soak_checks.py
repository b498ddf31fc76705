"""The chaos soak's verdict: the checks on what it observed (``soak_outcome.Outcome``), and the table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from soak_outcome import FINISHED, Answer, Outcome
from soak_plan import Task

#: Seconds between a task's answer and its worker's death within which a second answer is allowed
#: (the answered message is deleted within this window).
ACK_WINDOW = 1.0
#: Slack on "received again within one visibility timeout, or as soon as a worker had a free thread":
#: the long poll that notices it.
PICKUP_SLACK = 5.0
#: Slack on the shutdown budget: one long poll (20 s) and the process exit.
SHUTDOWN_SLACK = 25.0


@dataclass
class Check:
    """One line of the verdict."""

    name: str
    ok: bool
    figure: str
    details: list[str] = field(default_factory=list)


def expected(task: Task, answer: Answer) -> str | None:
    """Why ``answer`` is not the one ``task`` must get, or None."""
    payload = answer.payload
    if answer.envelope.get("taskType") != task.result_type:
        return f"taskType {answer.envelope.get('taskType')} (want {task.result_type})"
    if task.expect_code is None:
        if payload.get("status") != "COMPLETED":
            return f"{payload.get('status')} {payload.get('errorCode')}: {payload.get('error')}"
        return None
    if payload.get("status") != "FAILED" or payload.get("errorCode") != task.expect_code:
        return f"{payload.get('status')} {payload.get('errorCode')} (want FAILED {task.expect_code})"
    return None


def evaluate(outcome: Outcome) -> list[Check]:
    """Every check of the issue, on one soak run."""
    tasks = {t.task_id: t for t in outcome.tasks}
    grouped = outcome.by_task()
    checks = []

    unanswered = [
        f"{t.kind} {t.note or t.task_type} {t.task_id}" for t in outcome.tasks if t.task_id not in grouped
    ]
    checks.append(
        Check(
            "every taskId answered",
            not unanswered,
            f"{len(tasks) - len(unanswered)}/{len(tasks)}",
            unanswered,
        )
    )
    unexpected = [
        f"{a.task_id}: {a.payload.get('errorCode')}" for a in outcome.answers if a.task_id not in tasks
    ]
    checks.append(Check("no answer for an unknown taskId", not unexpected, str(len(unexpected)), unexpected))

    wrong = []
    for task_id, answers in grouped.items():
        if task_id in tasks and (why := expected(tasks[task_id], answers[0])):
            wrong.append(f"{tasks[task_id].kind} {tasks[task_id].note} {task_id}: {why}")
    checks.append(
        Check("COMPLETED / FAILED with the right errorCode", not wrong, f"{len(wrong)} wrong", wrong)
    )

    disagree, outside, duplicates = [], [], 0
    for task_id, answers in grouped.items():
        if len(answers) < 2:
            continue
        duplicates += len(answers) - 1
        if any(a.payload != answers[0].payload for a in answers[1:]):
            disagree.append(f"{task_id}: {[a.payload.get('status') for a in answers]}")
        answering = [
            life
            for life in outcome.lives
            if any(t == task_id and e == "task.answered" for _, t, e in life.timeline)
        ]
        died = [life.signalled_at - answers[0].at for life in answering if life.signal]
        if not any(-0.5 <= gap <= ACK_WINDOW for gap in died):
            why = ", ".join(f"its worker died {g:.1f} s after the answer" for g in died) or "no worker died"
            crashes = [c - answers[0].at for life in answering for c in life.consumer_errors]
            why += "".join(
                f"; consumer crashed {-c:.1f} s before the answer" for c in crashes if -5 <= c <= 0
            )
            outside.append(f"{task_id}: answered {len(answers)}x; {why}")
    partial = [
        f"{t.note} {t.task_id}: {grouped[t.task_id][0].payload.get('error')}"
        for t in outcome.tasks
        if t.kind == "fault" and t.task_id in grouped and grouped[t.task_id][0].payload.get("error")
    ]
    checks.append(
        Check("a transient fault leaves no partial result", not partial, f"{len(partial)} partial", partial)
    )
    checks.append(ack_check(outcome, set(tasks)))
    checks.append(Check("duplicate answers agree", not disagree, f"{duplicates} duplicates", disagree))
    checks.append(
        Check(
            f"duplicates only from a death within {ACK_WINDOW:.0f} s of the answer",
            not outside,
            f"{len(outside)} outside",
            outside,
        )
    )

    poison = Counter(t.body for t in outcome.tasks if t.dead_letter)
    dead = Counter(outcome.dead_letters)
    missing = [
        f"{t.note} {t.task_id}" for t in outcome.tasks if t.dead_letter and dead[t.body] < poison[t.body]
    ]
    checks.append(
        Check(
            "every poison body dead-lettered",
            not missing,
            f"{sum(dead.values())} in DLQ / {sum(poison.values())} poison",
            missing,
        )
    )
    extra = [body[:120] for body in (dead - poison).elements()]
    checks.append(Check("nothing else dead-lettered", not extra, str(len(extra)), extra))
    checks.append(Check("request queue empty", outcome.request_depth == 0, f"{outcome.request_depth} left"))

    checks.extend(vector_checks(outcome, tasks))
    checks.append(waiting_check(outcome, tasks))

    slow = [
        f"{life.name}: {life.exited_at - life.signalled_at:.1f} s ({life.signal})"
        for life in outcome.lives
        if life.signal.startswith("SIGTERM")
        and life.exited_at - life.signalled_at > outcome.shutdown_seconds + SHUTDOWN_SLACK
    ]
    terms = [
        life.exited_at - life.signalled_at for life in outcome.lives if life.signal.startswith("SIGTERM")
    ]
    figure = "max " + (f"{max(terms):.1f} s" if terms else "-") + f" (budget {outcome.shutdown_seconds} s)"
    checks.append(Check("SIGTERM: worker exits within its budget", not slow, figure, slow))

    checks.append(
        Check(
            "result objects of COMPLETED answers exist",
            not outcome.missing_objects,
            str(len(outcome.missing_objects)),
            outcome.missing_objects,
        )
    )
    planned = sum(p for p, _ in outcome.faults.values())
    injected = sum(i for _, i in outcome.faults.values())
    checks.append(
        Check(
            "every planned fault was injected", not outcome.unfired, f"{injected}/{planned}", outcome.unfired
        )
    )
    checks.append(
        Check(
            "soak ran to the end",
            outcome.finished and not outcome.errors,
            f"{outcome.wall_seconds:.0f} s",
            outcome.errors,
        )
    )
    return checks


def vector_checks(outcome: Outcome, tasks: dict[str, Task]) -> list[Check]:
    """No duplicate or orphan vectors, no vector or edge across users, no missing vectors."""
    firsts = outcome.first_answers()
    completed = {t for t, a in firsts.items() if a.payload.get("status") == "COMPLETED" and t in tasks}
    duplicates, orphans, crossing = [], [], []
    seen: Counter[tuple[str, str]] = Counter()
    for vid, meta in outcome.vectors:
        user, orig, task_id = str(meta.get("userId")), str(meta.get("orig_id")), str(meta.get("taskId"))
        seen[(user, orig)] += 1
        if not vid.startswith(f"{user}_") or (task_id in tasks and tasks[task_id].user_id != user):
            crossing.append(f"vector {vid} of {user} (task {task_id})")
        if task_id not in completed:
            orphans.append(f"vector {vid}: task {task_id} has no COMPLETED answer")
        elif orig not in output_ids(outcome.documents.get(task_id)):
            orphans.append(f"vector {vid}: not in the output of {task_id}")
    duplicates += [f"{u}/{o} x{n}" for (u, o), n in seen.items() if n > 1]
    rows: Counter[tuple[str, str, str]] = Counter()
    for rid, meta in outcome.cluster_rows:
        user, task_id = str(meta.get("userId")), str(meta.get("taskId"))
        rows[(user, task_id, str(meta.get("cluster_id")))] += 1
        if task_id not in completed:
            orphans.append(f"cluster row {rid}: task {task_id} has no COMPLETED answer")
        elif tasks[task_id].user_id != user:
            crossing.append(f"cluster row {rid} of {user} (task {task_id})")
    duplicates += [f"cluster {k} x{n}" for k, n in rows.items() if n > 1]

    # A regeneration removes the vectors of conversations that are not in its input (issue 11): a
    # vector is only missing if no later graph of the same user left it out.
    regenerations: dict[str, list[tuple[float, set[str]]]] = {}
    for task_id in completed:
        if tasks[task_id].task_type == "GRAPH_GENERATION_REQUEST" and task_id in outcome.documents:
            regenerations.setdefault(tasks[task_id].user_id, []).append(
                (min(outcome.answered_at.get(task_id) or [0.0]), output_ids(outcome.documents[task_id]))
            )
    missing = []
    for task_id in sorted(completed):
        task, document = tasks[task_id], outcome.documents.get(task_id)
        if task.task_type == "GRAPH_SUMMARY_REQUEST" or document is None:
            continue
        outputs = output_ids(document)
        if task.task_type == "GRAPH_GENERATION_REQUEST" and not outputs <= task.items:
            crossing.append(f"{task_id}: graph holds nodes that are not in its input")
        crossing += [f"{task_id}: {e}" for e in foreign_edges(document, task.user_id)]
        if not firsts[task_id].payload.get("error"):
            stored = {o for (u, o) in seen if u == task.user_id}
            answered = min(outcome.answered_at.get(task_id) or [float("inf")])
            pruned = {
                o
                for o in outputs - stored
                for at, kept in regenerations.get(task.user_id, [])
                if at > answered and o not in kept
            }
            missing += [f"{task_id}: {o}" for o in sorted(outputs - stored - pruned)]
    partial = sum(1 for t in completed if firsts[t].payload.get("error"))
    return [
        Check(
            "Chroma: no duplicate vectors",
            not duplicates,
            f"{len(outcome.vectors)} vectors, {len(outcome.cluster_rows)} cluster rows",
            duplicates,
        ),
        Check("Chroma: no orphan vectors", not orphans, f"{len(orphans)} orphans", orphans),
        Check("no data across users", not crossing, f"{len(crossing)}", crossing),
        Check(
            "COMPLETED without error has its vectors",
            not missing,
            f"{len(missing)} missing; {partial} COMPLETED with error",
            missing,
        ),
    ]


def output_ids(document: Any) -> set[str]:
    """Orig ids of a graph.json's nodes or a result.json's nodes."""
    if not isinstance(document, dict):
        return set()
    if "nodes" in document:
        return {str(n.get("orig_id")) for n in document["nodes"]}
    return {str(n.get("origId")) for item in document.get("results", []) for n in item.get("nodes", [])}


def foreign_edges(document: dict[str, Any], user_id: str) -> list[str]:
    """Add-node nodes or edges that name another user's node."""
    found = []
    for item in document.get("results", []):
        for node in item.get("nodes", []):
            if node.get("userId") != user_id or not str(node.get("id")).startswith(f"{user_id}_"):
                found.append(f"node {node.get('id')}")
        for edge in item.get("edges", []):
            if not all(str(edge.get(end)).startswith(f"{user_id}_") for end in ("source", "target")):
                found.append(f"edge {edge.get('source')} -> {edge.get('target')}")
    return found


def ack_check(outcome: Outcome, planned: set[str]) -> Check:
    """Every answered message is deleted within ``ACK_WINDOW`` of its answer (timed at the proxy)."""
    latencies, slow, undeleted = [], [], []
    for task_id, answered in outcome.answered_at.items():
        if task_id not in planned:
            continue  # answered under an id nobody asked for: reported by its own check
        deletes = sorted(outcome.deleted_at.get(task_id, []))
        answered = sorted(answered)
        for i, at in enumerate(answered):
            until = answered[i + 1] if i + 1 < len(answered) else float("inf")
            after = [d - at for d in deletes if at - 0.05 <= d < until]
            if not after:
                undeleted.append(f"{task_id}: answered, its message not deleted before the next delivery")
                continue
            latencies.append(max(0.0, after[0]))
            if after[0] > ACK_WINDOW:
                slow.append(f"{task_id}: deleted {after[0]:.1f} s after its answer")
    latencies.sort()
    if latencies:
        figure = (
            f"{len(latencies)} acks: median {latencies[len(latencies) // 2]:.2f} s, "
            f"p99 {latencies[int(len(latencies) * 0.99)]:.2f} s, max {latencies[-1]:.1f} s; "
            f"{len(slow)} over {ACK_WINDOW:.0f} s; {len(undeleted)} never deleted"
        )
    else:
        figure = "no acks seen"
    return Check(
        f"answered message deleted within {ACK_WINDOW:.0f} s",
        not slow and bool(latencies),
        figure,
        slow + undeleted,
    )


def first_free_slot(outcome: Outcome, start: float, end: float) -> float | None:
    """The first moment in [start, end] (1 s steps) when a live worker had a thread free."""
    moment = start
    while moment <= end:
        if any(life.free_slots_at(moment, outcome.threads) for life in outcome.lives):
            return moment
        moment += 1.0
    return None


def waiting_check(outcome: Outcome, tasks: dict[str, Task]) -> Check:
    """Tasks in flight on a worker that died: received again (by any worker, timed at the SQS proxy)
    within one visibility timeout, or, when every live worker's threads were busy by then (a backlog
    of visible requests, a restarted worker still loading its models), within moments of the first
    free thread. Also reported: when they started again and were answered, and how many waited for
    a thread."""
    grouped = outcome.by_task()
    back, started, answered, late, busy = [], [], [], [], 0
    for life in outcome.lives:
        if not life.signal:
            continue
        died = life.signalled_at
        for task_id in sorted(life.in_flight_at(died)):
            if task_id not in tasks:
                continue
            after = [a.at - died for a in grouped.get(task_id, []) if a.at >= died]
            if after:
                answered.append(min(after))
            if any(t == task_id and e in FINISHED and at > died for at, t, e in life.timeline):
                back.append(0.0)  # a graceful shutdown let it finish
                started.append(0.0)
                continue
            received = [at - died for at in outcome.received_at.get(task_id, []) if at >= died]
            wait = min(received, default=float("inf"))
            back.append(wait)
            again = [
                at - died
                for other in outcome.lives
                if other is not life
                for at, t, _ in other.timeline
                if t == task_id and at >= died
            ]
            started.append(min(again, default=float("inf")))
            if wait <= outcome.visibility + PICKUP_SLACK:
                continue
            visible = died + outcome.visibility
            free = first_free_slot(outcome, visible, died + wait)
            if free is None:
                busy += 1  # every thread of every live worker was busy until it was received
            elif died + wait - free > PICKUP_SLACK:
                late.append(
                    f"{task_id} on {life.name} ({life.signal}): received again {wait:.1f} s later, "
                    f"{died + wait - free:.1f} s after a thread was free"
                )
            else:
                busy += 1
    figure = (
        f"{len(back)} in flight; received again max {max(back):.1f} s ({busy} waited for a busy worker's "
        f"thread), restarted max {max(started):.1f} s, answered max {max(answered, default=0):.1f} s after "
        "the death"
        if back
        else "no task in flight"
    )
    name = f"back within the visibility timeout ({outcome.visibility} s) after a death"
    return Check(name, not late, figure, late)


def print_report(outcome: Outcome, checks: list[Check]) -> None:
    """The soak's figures and the table of checks."""
    kinds = Counter(t.kind for t in outcome.tasks)
    grouped = outcome.by_task()
    retries = sum(1 for life in outcome.lives for _, _, e in life.timeline if e == "task.retry_scheduled")
    print(f"\ntasks: {len(outcome.tasks)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(
        f"answers: {len(outcome.answers)} for {len(grouped)} taskIds; progress messages: {outcome.progress}"
    )
    print(f"retries scheduled: {retries}; faults injected: {outcome.faults}")
    print(
        f"workers: {len(outcome.lives)} processes; signals: "
        + ", ".join(f"{x.name} {x.signal}" for x in outcome.lives if x.signal)
    )
    print(
        f"wall time: {outcome.wall_seconds:.0f} s ({len(outcome.tasks) / max(outcome.wall_seconds, 1):.2f} tasks/s)\n"
    )
    width = max(len(c.name) for c in checks)
    print(f"{'check':<{width}}  {'result':<6}  figure")
    print("-" * (width + 40))
    for check in checks:
        print(f"{check.name:<{width}}  {'ok' if check.ok else 'FAIL':<6}  {check.figure}")
    for check in checks:
        if check.details and not check.ok:
            print(f"\n{check.name}:")
            for line in check.details[:15]:
                print(f"  {line}")
            if len(check.details) > 15:
                print(f"  ... and {len(check.details) - 15} more")
