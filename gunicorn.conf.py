"""Gunicorn settings, read from the working directory by every gunicorn started here (the
Dockerfile, docker-compose and scripts/bench_game_load.py); command-line flags still apply.

After a worker has loaded the application:

1. one-time loads that would otherwise land on some player's request are done now (the word
   inflection tables the characteristic checks use: about half a second);
2. everything loaded so far (Django, DRF, allauth, numpy, the apps: over 100,000 objects that
   live as long as the worker) is moved to the permanent generation (``gc.freeze``), so Python's
   cyclic garbage collector no longer walks it in every full collection (tens of milliseconds,
   at random moments in random requests) and only walks what requests allocate.
"""

import gc


def post_worker_init(worker) -> None:
    from processing.nlp.clean import validate_characteristic

    validate_characteristic("striped fur", class_names=["tabby, tabby cat"], aliases=["kitty"])
    gc.collect()
    gc.freeze()
