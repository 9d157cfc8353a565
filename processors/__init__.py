"""Our pipecat frame processors: small, one job each, on the interview domain."""
