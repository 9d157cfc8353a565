"""A candidate over the real WebSocket: the replay client and the scenario runner.

Used by ``interviewer replay``, the tests and the benchmarks; it speaks pipecat's protocol as
the browser page does, so everything it reports went through the real server.
"""
