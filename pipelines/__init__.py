"""The computation, pure over models and arrays: ingest, text analysis, embedding, keywords,
clustering, edges, subclusters, naming, profiles, add-node placement and summaries."""
