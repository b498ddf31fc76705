"""The graph summary (``summary.json``, CONTRACT.md 6e), computed offline from a graph.

``normalize_graph`` reads a graph as stored, our own ``graph.json`` or the backend's looser summary
input, into a ``GraphDocument``. ``summarize_graph`` describes that graph: an overview, every
cluster, patterns across time and clusters, the connections between clusters and recommendations.
Everything comes from the graph itself (no model, no network); the prose is written from the
templates in ``TEMPLATES``, one dict per language.

Modules: ``reading`` (a stored graph into a ``GraphDocument``; ``values`` reads its loose fields),
``measure`` (topics, links, recency), ``questions`` (question types of titles), ``clusters``,
``overview``, ``patterns``, ``connections`` and ``recommendations`` (the sections), ``writer`` and
``templates`` (the prose, per language) and ``document`` (the whole summary).
"""

from pipelines.summary.document import summarize_graph
from pipelines.summary.questions import QUESTION_TYPES, question_types
from pipelines.summary.reading import normalize_graph
from pipelines.summary.templates import TEMPLATES

__all__ = ["QUESTION_TYPES", "TEMPLATES", "normalize_graph", "question_types", "summarize_graph"]
