"""The malloc tuning seam: arenas capped before threads, trims timed, a no-op without glibc."""

from __future__ import annotations

import sys

import pytest

from pizzabus.cli.native_memory import ARENAS, M_ARENA_MAX, NativeMemory, load_glibc


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, 0))
        return 1


def test_caps_the_arenas_with_mallopt() -> None:
    libc = FakeLibc()
    assert NativeMemory(libc).cap_arenas()
    assert libc.calls == [("mallopt", M_ARENA_MAX, ARENAS)]


def test_a_trim_releases_everything_free_and_records_how_long_it_took() -> None:
    libc = FakeLibc()
    ticks = iter([10.0, 10.25])
    memory = NativeMemory(libc, timer=lambda: next(ticks))
    assert memory.trim()
    assert libc.calls == [("malloc_trim", 0, 0)]
    assert memory.last_trim_s == 0.25


def test_without_glibc_everything_is_a_no_op() -> None:
    memory = NativeMemory(None)
    assert not memory.active
    assert not memory.cap_arenas()
    assert not memory.trim()
    assert memory.start_trimming() is None


def test_the_trimming_thread_trims_until_stopped() -> None:
    libc = FakeLibc()
    memory = NativeMemory(libc)
    stop = memory.start_trimming(every_s=0.001)
    assert stop is not None
    # Generous failure guard only: waits for the first trim, however slow the machine.
    for _ in range(10_000):
        if libc.calls:
            break
        stop.wait(0.001)
    stop.set()
    assert libc.calls
    assert libc.calls[0][0] == "malloc_trim"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is Linux-only")
def test_the_real_glibc_is_found_on_linux_with_glibc() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":
        # musl (Alpine) has no mallopt/malloc_trim: load_glibc returns None there, which
        # test_elsewhere_there_is_no_libc_to_tune covers; this one checks the real library.
        pytest.skip(f"the C library is {platform.libc_ver()[0] or 'unknown'}, not glibc")
    assert load_glibc() is not None


def test_elsewhere_there_is_no_libc_to_tune(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert load_glibc() is None
