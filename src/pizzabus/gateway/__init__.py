"""The gateway: the system's HTTP API and WebSocket API as one ASGI application, the
management API of WebSocket connections, and the web client."""
