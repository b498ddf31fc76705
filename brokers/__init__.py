"""Brokers the worker adds to Dramatiq's own."""
