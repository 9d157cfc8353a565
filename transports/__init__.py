"""Transport factories (local WebSocket, Daily) and the client serializer."""
