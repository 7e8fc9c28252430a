"""The soak benchmark's verdict, series and chart (no server: the judging is pure)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.soak import Row, chart, verdict, write_csv


def _rows(wal_mb: float = 5.0, rss_growth_mb: float = 0.0, minutes: int = 10) -> list[Row]:
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
                failures=0,
                rss_mb=80.0 + (rss_growth_mb * t / (minutes * 60) if t >= 60 else -2),
                data_dir_mb=t / 10,
                tables_db_mb=t / 25,
                events_db_mb=t / 25,
                tables_wal_mb=wal_mb if n == 40 else 1.0,
                events_wal_mb=4.0,
                open_fds=70,
                tasks=5,
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
