"""The soak benchmark's verdict, series and chart (no server: the judging is pure)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from benchmarks.soak import Row, _cpu_seconds, chart, verdict, write_csv


def _rows(
    wal_mb: float = 5.0,
    rss_growth_mb: float = 0.0,
    minutes: int = 10,
    data_mb_per_s: float = 0.1,
    failures_at: int | None = None,
) -> list[Row]:
    rows = []
    for n in range(minutes * 12 + 1):
        t = n * 5.0
        rows.append(
            Row(
                t_s=t,
                orders=n * 150,
                orders_per_s=30.0,
                p50_ms=10.0,
                p99_ms=50.0,
                failures=1 if n == failures_at else 0,
                rss_mb=80.0 + (rss_growth_mb * t / (minutes * 60) if t >= 60 else -2),
                data_dir_mb=t * data_mb_per_s,
                tables_db_mb=t / 25,
                events_db_mb=t / 25,
                tables_wal_mb=wal_mb if n == 40 else 1.0,
                events_wal_mb=4.0,
                open_fds=70,
                tasks=5,
                environments=7 + n % 3,
                server_cpu_pct=40.0 + n % 5,
                loadgen_cpu_pct=None if n == 0 else 20.0,
            )
        )
    return rows


def test_a_steady_run_passes_every_bound() -> None:
    judged = verdict(_rows(), minutes=10, memory=False)
    assert judged["passed"]
    assert judged["checks"]["wal_max_mb"]["value"] == 5.0
    assert judged["rss_slope_mb_per_min"] == 0.0


def test_one_sample_of_an_oversized_log_fails_the_run() -> None:
    judged = verdict(_rows(wal_mb=65.0), minutes=10, memory=False)
    assert not judged["passed"]
    assert not judged["checks"]["wal_max_mb"]["ok"]


def test_memory_growing_after_the_first_minute_is_drift_and_slope() -> None:
    judged = verdict(_rows(rss_growth_mb=6.0), minutes=10, memory=False)
    assert not judged["checks"]["rss_drift_after_minute_1_mb"]["ok"]
    assert judged["rss_slope_mb_per_min"] == 0.6
    in_memory = verdict(_rows(rss_growth_mb=6.0), minutes=10, memory=True)
    assert "rss_bytes_per_order" in in_memory["checks"]


def test_the_series_is_written_as_csv_and_charted(tmp_path: Path) -> None:
    rows = _rows()
    write_csv(tmp_path / "soak.csv", rows)
    with (tmp_path / "soak.csv").open() as file:
        read = list(csv.DictReader(file))
    assert len(read) == len(rows)
    assert float(read[-1]["data_dir_mb"]) == rows[-1].data_dir_mb
    assert chart(tmp_path / "soak.png", rows, "a test")
    assert (tmp_path / "soak.png").stat().st_size > 10_000


def test_a_data_directory_over_its_bound_fails_the_run() -> None:
    judged = verdict(_rows(data_mb_per_s=0.6), minutes=10, memory=False)
    assert judged["checks"]["data_dir_max_mb"] == {"value": 360.0, "bound": 300.0, "ok": False}
    assert not judged["passed"]
    # The bound grows with the run: 30 minutes may hold three times as much.
    longer = verdict(_rows(data_mb_per_s=0.3, minutes=30), minutes=30, memory=False)
    assert longer["checks"]["data_dir_max_mb"]["ok"]


def test_one_failed_order_fails_the_run() -> None:
    judged = verdict(_rows(failures_at=50), minutes=10, memory=False)
    assert judged["checks"]["failed_orders"] == {"value": 1, "bound": 0, "ok": False}
    assert not judged["passed"]


def test_in_memory_the_growth_is_judged_per_order() -> None:
    # 16,200 orders after the first minute: 9 MB is 583 bytes an order, 180 MB 11.4 KB (> 8 KB).
    small = verdict(_rows(rss_growth_mb=9.0), minutes=10, memory=True)
    assert small["checks"]["rss_bytes_per_order"]["ok"]
    assert "wal_max_mb" not in small["checks"]
    assert small["passed"]
    large = verdict(_rows(rss_growth_mb=180.0), minutes=10, memory=True)
    assert not large["checks"]["rss_bytes_per_order"]["ok"]
    assert not large["passed"]


def test_rss_within_the_drift_bound_passes_and_counts_are_given_as_ranges() -> None:
    judged = verdict(_rows(rss_growth_mb=4.9), minutes=10, memory=False)
    assert judged["checks"]["rss_drift_after_minute_1_mb"]["ok"]
    assert judged["environments"] == [7, 9]
    assert judged["tasks"] == [5, 5]


def test_cpu_time_is_read_from_proc_and_counts_work_done() -> None:
    before = _cpu_seconds(os.getpid())
    assert before is not None
    spin_until = time.process_time() + 0.05
    while time.process_time() < spin_until:
        pass
    after = _cpu_seconds(os.getpid())
    assert after is not None
    assert after - before >= 0.03
    assert _cpu_seconds(2**22 + 1) is None  # no such process: unknown, not an error
