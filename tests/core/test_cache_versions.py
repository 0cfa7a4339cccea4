"""apps/core/cache_versions.py: a bump or an eviction never revives old entries."""

import pytest
from django.core.cache import cache

from apps.core.cache_versions import cache_version, cache_version_bump

pytestmark = pytest.mark.django_db


def test_bump_moves_the_version_now_and_again_after_commit(
    django_capture_on_commit_callbacks,
):
    before = cache_version("test:family")
    with django_capture_on_commit_callbacks(execute=True):
        cache_version_bump("test:family")
        assert cache_version("test:family") == before + 1
    assert cache_version("test:family") == before + 2


def test_evicted_version_restarts_above_every_number_used_before():
    used = cache_version("test:evicted")
    for _ in range(3):
        cache_version_bump("test:evicted")
    cache.delete("test:evicted")  # evicted, or lost with a Redis restart
    assert cache_version("test:evicted") > used + 3
