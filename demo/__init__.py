"""The one-shot demo: the real actor on the StubBroker with embedded storage, and its report."""
