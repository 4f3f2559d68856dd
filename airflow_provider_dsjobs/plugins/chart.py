"""The job page's CPU and memory chart, drawn as inline SVG from the stored samples (no script, no external
assets): two polylines scaled to the chart, with the peaks as labels."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.jobs.stats import StatsPoint

WIDTH, HEIGHT, PAD = 600, 120, 4


class StatsChart(BaseModel):
    """What the template draws: SVG ``points`` for CPU and memory, and the words around them."""

    width: int
    height: int
    cpu_points: str
    memory_points: str
    cpu_peak: str
    memory_peak: str
    memory_limit: str | None
    duration: str
    samples: int


def _polyline(values: Sequence[float], times: Sequence[float], top: float) -> str:
    span = max(times[-1] - times[0], 1e-9)
    scale = max(top, 1e-9)
    return " ".join(
        f"{PAD + (t - times[0]) / span * (WIDTH - 2 * PAD):.1f},{HEIGHT - PAD - v / scale * (HEIGHT - 2 * PAD):.1f}"
        for t, v in zip(times, values, strict=True)
    )


def stats_chart(points: Sequence[StatsPoint]) -> StatsChart | None:
    """The chart of ``points``, or None with fewer than two (nothing to draw a line through)."""
    if len(points) < 2:
        return None
    times = [p.seconds for p in points]
    cpu = [p.cpu_percent for p in points]
    memory = [float(p.memory_bytes) for p in points]
    limit = max(p.memory_limit_bytes for p in points)
    cpu_top = max(max(cpu), 100.0)  # one full CPU is the least the scale shows
    return StatsChart(
        width=WIDTH,
        height=HEIGHT,
        cpu_points=_polyline(cpu, times, cpu_top),
        memory_points=_polyline(memory, times, max(memory)),
        cpu_peak=f"{max(cpu):.0f}%",
        memory_peak=human_size(int(max(memory))),
        memory_limit=human_size(limit) if limit > 0 else None,
        duration=f"{times[-1] - times[0]:.0f} s",
        samples=len(points),
    )
