"""Local servers the distributed runtime and the tests need: a private ``nats-server`` with
JetStream (``nats.py``) and a throwaway PostgreSQL (``postgres.py``), each on a free loopback
port with a temporary store, stopped with the process that started it."""
