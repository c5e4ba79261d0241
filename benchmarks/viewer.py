"""Server time of the researcher viewer for an image of 9 layers × 8 clusters (target ≤ 300 ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netviz .venv/bin/python -m benchmarks.viewer \
        [--repeat 30] [--layers 9] [--clusters 8] [--json var/bench/viewer.json]

What it does: creates a throwaway test database (``test_netviz_bench_viewer``, like the test
runner, dropped at the end) and a temporary MEDIA_ROOT; writes one image with layers × clusters
cluster maps and label-processing records for each (stats, 5 label scores, merged groups, full
merges); logs in a researcher; requests each page through Django's test client in this process
(so the time is the server's: middleware, queries, cards, SVG charts, templates; no network),
after warm-up requests; and reports the median, p95 and maximum per page and its query count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz_site.settings.test")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_MS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--layers", type=int, default=9)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    media = tempfile.mkdtemp(prefix="netviz-bench-viewer-")
    settings.MEDIA_ROOT = media
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "test_netviz_bench_viewer"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from tests.campaigns.support import make_user
        from tests.viewer.support import big_image

        campaign, image = big_image(layers=args.layers, clusters=args.clusters)
        client = Client()
        client.force_login(make_user("bench-researcher", groups=("researcher",)))
        base = f"/viewer/{campaign.slug}/images/{image.pk}/"
        pages = {
            "image (unmerged)": base,
            "image (merged)": base + "?view=merged",
            "image (full merge)": base + "?view=full",
            "cluster detail": base + "layers/4/clusters/3/",
            "image API": f"/api/viewer/campaigns/{campaign.slug}/images/{image.pk}/",
        }
        results = {}
        for name, url in pages.items():
            for _ in range(3):
                assert client.get(url).status_code == 200, url
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    t0 = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            times.sort()
            results[name] = {
                "url": url,
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[max(0, int(0.95 * len(times)) - 1)], 1),
                "max_ms": round(times[-1], 1),
                "queries": len(queries),
                "bytes": len(response.content),
            }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        import shutil

        shutil.rmtree(media, ignore_errors=True)
    print(
        f"viewer server time, image of {args.layers} layers × {args.clusters} clusters, "
        f"{args.repeat} requests each ({connection.vendor}):"
    )
    for name, r in results.items():
        print(
            f"  {name:20s} median {r['median_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
            f"max {r['max_ms']:7.1f} ms  {r['queries']:2d} queries  {r['bytes'] / 1000:.0f} kB"
        )
    worst = max(r["p95_ms"] for r in results.values())
    ok = worst <= TARGET_MS
    print(f"target p95 ≤ {TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'} (worst p95 {worst} ms)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"target_ms": TARGET_MS, "pages": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
