"""Readers of the user's raw files (PDF, Word, PowerPoint, Hangul) into plain text by sections.

Each file is read in a child process (isolation.py) under per-file limits (limits.py), so that a
hostile or broken file is reported as unreadable and can never take the worker down or stall it.
"""
