"""Celery entry point: a thin wrapper around stats.rollup."""

from celery import shared_task

from stats.rollup import rollup_refresh


@shared_task(name="stats.rollup_refresh", ignore_result=True)
def rollup_refresh_task() -> int:
    """Beat runs it every minute: rebuilds the closed days that are unbuilt or stale. Stale
    days are read live meanwhile, so the period bounds the page's cost (resolutions keep the
    last weeks' days going stale), never its correctness. Overlapping runs are safe: a day
    being built is skipped (SKIP LOCKED)."""
    return rollup_refresh()
