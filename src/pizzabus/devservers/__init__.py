"""Throwaway servers for development, tests and benchmarks (never for production data).

    postgres.py     a private PostgreSQL on a free loopback port, from the ``pgserver`` package's
                    binaries (or the machine's own), deleted when stopped

Each server is started by a function answering a handle with the address to give a client and
a ``stop()``; the handle is also a context manager. They sit beside the runtime, not inside it:
``pizzabus serve`` talks to servers the user runs, and only tests and benchmarks start these.
"""
