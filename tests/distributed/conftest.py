from tests.support.nats import module_nats_server, nats_server

__all__ = ["module_nats_server", "nats_server"]
