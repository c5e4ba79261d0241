"""Load benchmark of Deep Reveal, part 1: the database, the seed and the history of past rounds
(see :mod:`benchmarks.game_load`)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DB_NAME = "netviz_bench_game"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
CLASSES = [
    "tabby, tabby cat",
    "English springer",
    "garbage truck",
    "goldfinch",
    "church, church building",
    "chain saw, chainsaw",
    "French horn, horn",
    "parachute, chute",
    "golf ball",
    "cassette player",
]
WORDS = [
    "striped texture",
    "round shape",
    "green grass",
    "metal handle",
    "soft fur",
    "bright sky",
    "dark window",
    "wooden frame",
    "white spots",
    "curved edge",
    "shiny surface",
    "small wheel",
    "red stripe",
    "thin legs",
    "blue background",
    "rough bark",
    "feathers",
    "pointed ears",
    "yellow patch",
    "long tail",
]


# --- environment ---------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis(socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


BROKER_DB = 12  # Redis database of the benchmark's Celery broker (emptied at the end)


def broker_db_free() -> bool:
    """The broker database is empty, so the benchmark may use it and empty it afterwards."""
    import redis

    return redis.Redis(db=BROKER_DB, socket_timeout=1).dbsize() == 0


def broker_db_clear() -> None:
    import redis

    redis.Redis(db=BROKER_DB, socket_timeout=1).flushdb()


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        conn.execute(sql)


def server_env(
    *, media: Path, static: Path, cache_prefix: str, broker: str = "memory://"
) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netviz_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}",
        "DB_CONN_MAX_AGE": "600",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(static),
        "CELERY_BROKER_URL": broker,
        "NETVIZ_GAME_RATE_PLAYER": "1000000/min",
        "NETVIZ_GAME_RATE_IP": "1000000/min",
        # every simulated player is a new guest from 127.0.0.1
        "NETVIZ_GUEST_RATE_IP": "1000000/hour",
        "NETVIZ_GUEST_RATE_NETWORK": "1000000/hour",
        "NETVIZ_GUEST_RATE_SITE": "1000000/hour",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "console://",  # production settings want mail; nothing is sent here
        "HF_HUB_OFFLINE": "1",
        "CACHE_KEY_PREFIX": cache_prefix,
    }
    if redis_up():
        env["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    else:
        env.pop("REDIS_URL", None)
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


# --- seeding (runs in a child process with the server's environment) ------------------------


def grow_history(*, extra_clusters: int, players: int = 0, rounds: int = 0) -> None:
    """A campaign with a history, in SQL: ``extra_clusters`` more cluster maps per layer (they
    reuse cluster 0's frame files), and finished rounds of past players, spread over the items
    (each past player finished a round on each image, on one of its items).

    ``players``: that many past players, a round on every image each (the items keep the
    campaign's target). ``rounds``: that many finished rounds in all (as many past players as
    it takes), and the campaign's target is raised by the most rounds an item got, so that every
    item stays playable: the same items then cost what they cost with a longer history.

    The rounds are written around the game's services, so the item tallies are recounted
    afterwards (``manage.py game_item_tallies_rebuild``, timed)."""
    import psycopg

    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        if extra_clusters > 0:
            conn.execute(
                "INSERT INTO explanations_clustermap (index, channels, weight, n_maps, map, "
                "overlay, frames, image_id, layer_result_id) "
                "SELECT 1000 + g, '[0, 1]'::jsonb, 1.0, 2, ''::bytea, cm.overlay, cm.frames, "
                "cm.image_id, cm.layer_result_id FROM explanations_clustermap cm, "
                "generate_series(1, %s) g WHERE cm.index = 0",
                [extra_clusters],
            )
        images = conn.execute("SELECT COUNT(*) FROM explanations_campaignimage").fetchone()[0]
        if rounds > 0:
            players = -(-rounds // images)
        else:
            rounds = players * images
        if players > 0:
            _history_rounds(conn, players=players, rounds=rounds)
        conn.execute("VACUUM ANALYZE")  # no autovacuum of the new rows during the run
        items = conn.execute("SELECT COUNT(*) FROM explanations_clustermap").fetchone()[0]
        finished = conn.execute("SELECT COUNT(*) FROM game_round").fetchone()[0]
    print(f"history: {items} items, {finished} finished rounds", flush=True)


def _history_rounds(conn, *, players: int, rounds: int) -> None:
    """``players`` past players (display names and their ``nickname_key``, as
    ``game.models.nickname_key`` folds "past 105" into "pastlos") and ``rounds`` finished
    rounds of theirs (processed by label processing long ago), one per (player, image), each
    image's rounds spread over its items and finished over the past year before this week (this week's leaderboard sums this week's
    rounds: a history finished today would make every leaderboard request sum it all)."""
    conn.execute(
        "INSERT INTO game_player (nickname, nickname_key, points, rounds_finished, wins, "
        "losses, resigns, step_sum, is_blocked, trust, trust_refusals, trust_accepted, "
        "trust_step0_rounds, trust_step0_wins, trust_step0_expected, trust_early_wins, "
        "trust_early_expected, trust_unlabelled, trust_agreements, trust_disagreements, "
        "created_at) "
        "SELECT 'past ' || g, 'past' || translate(g::text, '015', 'ols'), (g * 37) %% 900, "
        "1, 1, 0, 0, 2, false, 0.5, 0, 0, 0, 0, 0.0, 0, 0.0, 0, 0, 0, now() "
        "FROM generate_series(1, %s) g",
        [players],
    )
    conn.execute(
        "WITH items AS (SELECT image_id, array_agg(id ORDER BY id) AS ids "
        "FROM explanations_clustermap GROUP BY image_id), "
        "pairs AS (SELECT p.id AS player_id, i.id AS image_id, i.campaign_id, it.ids "
        "FROM game_player p CROSS JOIN explanations_campaignimage i "
        "JOIN items it ON it.image_id = i.id WHERE p.nickname LIKE 'past %%' "
        "ORDER BY p.id, i.id LIMIT %s) "
        "INSERT INTO game_round (token, player_id, campaign_id, image_id, cluster_map_id, "
        "layer_position, answer, status, outcome, step, guess, points_base, points_bonus, "
        "points, started_at, expires_at, finished_at, processed_at) "
        "SELECT md5(player_id::text || '-' || image_id::text), player_id, campaign_id, "
        "image_id, ids[1 + (player_id * 7 + image_id) %% cardinality(ids)], 0, 'x', 'done', "
        "'win', 2, 'x', 50, 0, 50, past - interval '10 minutes', past - interval '5 minutes', "
        "past, past FROM (SELECT *, now() - interval '1 day' * (8 + (player_id + image_id) %% 358) "
        "AS past FROM pairs) dated",
        [rounds],
    )


def raise_target_over_history() -> int:
    """Raise the campaign's target by the most finished rounds an item has: every item stays
    playable after a ``--history``. The new target."""
    import psycopg

    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        most = conn.execute(
            "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM game_round "
            "GROUP BY cluster_map_id) t"
        ).fetchone()[0]
        return conn.execute(
            "UPDATE explanations_campaign SET target_rounds = target_rounds + %s "
            "RETURNING target_rounds",
            [most],
        ).fetchone()[0]


def _storage_writers():
    """(save, encode): store bytes under a random name in a folder; encode an array as an image."""
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    def save(folder: str, data: bytes, suffix: str) -> str:
        return default_storage.save(
            f"{folder}/{secrets.token_urlsafe(18)}{suffix}", ContentFile(data)
        )

    def encode(array, fmt: str) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, fmt, quality=85)
        return buf.getvalue()

    return save, encode


def _mask_sets(rng) -> list:
    """16 reveal-mask sets (discs around random centres, exactly METHOD's pixel fractions),
    reused by every item."""
    import numpy as np

    yy, xx = np.mgrid[0:384, 0:512]
    mask_sets = []
    for _ in range(16):
        cy, cx = rng.integers(60, 320), rng.integers(60, 450)
        dist = np.hypot(yy - cy, xx - cx)
        cuts = np.sort(dist.ravel())
        mask_sets.append(
            [
                (dist <= cuts[int(pct / 100 * dist.size) - 1])[..., None].astype(np.uint8)
                for pct in (2, 4.5, 8, 13, 20, 30)
            ]
        )
    return mask_sets


def _seed_image(*, campaign, n: int, layers: int, clusters: int, rng, mask_sets) -> None:
    """One image of the campaign: its done job, its layers, and their cluster maps with real
    JPEG reveal frames."""
    import numpy as np
    from django.utils import timezone
    from PIL import Image

    from explanations.models import CampaignImage, ClusterMap, ExplanationJob, LayerResult

    save, encode = _storage_writers()
    base = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    photo = np.asarray(Image.fromarray(base).resize((512, 384), Image.BILINEAR))
    view = save("views", encode(photo, "PNG"), ".png")
    cls = CLASSES[n % len(CLASSES)]
    image = CampaignImage.objects.create(
        campaign=campaign,
        file=view,
        view_file=view,
        sha256=f"{n:064x}",
        width=512,
        height=384,
        true_class=cls,
        target_class=cls,
    )
    job = ExplanationJob.objects.create(
        image=image, params_hash=campaign.params_hash, status="done", finished_at=timezone.now()
    )
    for position in range(layers):
        layer = LayerResult.objects.create(
            job=job,
            image=image,
            layer=f"layer{position + 1}",
            position=position,
            n_channels=16,
            height=12,
            width=16,
            retained_weight=90.0,
            shares=b"",
            gradcam=b"",
        )
        for index in range(clusters):
            masks = mask_sets[int(rng.integers(len(mask_sets)))]
            ClusterMap.objects.create(
                layer_result=layer,
                image=image,
                index=index,
                channels=[0, 1],
                weight=50.0 - 10 * index,
                n_maps=2,
                map=b"",
                overlay=save("overlays", encode(photo, "JPEG"), ".jpg"),
                frames=[save("frames", encode(photo * m, "JPEG"), ".jpg") for m in masks],
            )


def seed(images: int, layers: int, clusters: int, target: int) -> None:
    """The published bench campaign: ``images`` × ``layers`` × ``clusters`` items."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    import numpy as np

    from explanations.models import Campaign, ModelSpec

    rng = np.random.default_rng(0)
    spec = ModelSpec.objects.create(
        name="bench-model",
        kind="builtin",
        status="done",
        class_names=CLASSES,
        explainable_layers=["l1", "l2", "l3"],
    )
    campaign = Campaign.objects.create(
        name="Bench campaign",
        slug="bench",
        model=spec,
        classes=CLASSES,
        aliases={"English springer": ["spaniel"]},
        explained_layers=[f"layer{i + 1}" for i in range(layers)],
        params_hash="b" * 64,
        target_rounds=target,
        status=Campaign.Status.PUBLISHED,
    )
    mask_sets = _mask_sets(rng)
    for n in range(images):
        _seed_image(
            campaign=campaign, n=n, layers=layers, clusters=clusters, rng=rng, mask_sets=mask_sets
        )


# --- the simulated players -------------------------------------------------------------------
