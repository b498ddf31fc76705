"""Dramatiq middleware of the worker, one concern per module."""
