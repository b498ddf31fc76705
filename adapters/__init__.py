"""The outside world behind small interfaces: blob stores, the vector store, result sinks, encoders,
the optional LLM and the AWS clients."""
