"""A long listing says how it is going: pages, assets, unmanaged, rate, Admin API allowance left."""

from __future__ import annotations

import logging

from mediasync.services.reconcile.listing import AdminAllowance, ListingProgress
from mediasync.store import ListingPage, ListingSource


def test_progress_is_logged_with_pages_assets_rate_and_allowance(caplog):
    allowance = AdminAllowance(reserve=10)
    allowance.note(ListingPage([], "cursor", rate_limit_remaining=1234))
    progress = ListingProgress(every=0)
    source = ListingSource("image", asset_folder="main-uploads")
    with caplog.at_level(logging.INFO, logger="mediasync.services.reconcile.listing"):
        progress.page(source, stored=500, unmanaged=3, allowance=allowance)
        progress.page(source, stored=200, unmanaged=0, allowance=allowance)
    last = caplog.records[-1].getMessage()
    assert "listing image:asset_folder:main-uploads: 2 pages, 700 assets in scope, 3 unmanaged" in last
    assert "assets/s" in last and "Admin API calls left this hour: 1234" in last


def test_progress_is_quiet_between_intervals(caplog):
    progress = ListingProgress(every=3600)
    with caplog.at_level(logging.INFO, logger="mediasync.services.reconcile.listing"):
        progress.page(ListingSource("raw"), stored=500, unmanaged=0, allowance=AdminAllowance(reserve=0))
    assert caplog.records == [] and (progress.pages, progress.assets) == (1, 500)
