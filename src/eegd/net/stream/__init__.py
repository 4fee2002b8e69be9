"""Streaming: connected WebSocket clients, their routes and queues, the once-encoded fan-out,
display decimation and the session hello."""
