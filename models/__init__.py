"""Pydantic models of the wire contract and of the documents the worker reads and writes."""
