"""Gunicorn settings, read from the working directory by every gunicorn started here (the
Dockerfile, docker-compose and benchmarks/game_load.py); command-line flags and
``GUNICORN_CMD_ARGS`` still apply.

Workers are ``gthread`` with one thread and HTTP keep-alive, not gunicorn's default ``sync``:
NetViz serves players directly (WhiteNoise, no buffering proxy in front), and a sync worker closes
every connection after its response, then lingers until the client has closed its side (gunicorn
27's ``close_graceful``): the worker sits idle for the client's round trip, and every request pays
a new TCP connection. Measured with ``benchmarks/game_load.py`` (100 players, same machine,
back to back): sync 3 workers, reveal p95 78 ms; gthread 3 x 1 thread, reveal p95 37 ms, and a
plain page's server CPU 1.5 ms instead of 2.9 ms. More threads per worker made the tails worse
here (p95 250 ms with 2 threads on 2 cores: the GIL hands the CPU back and forth); scale with
``--workers`` (about cores + 1) instead.

Before the workers are forked (``on_starting``), the master loads the language identifier of the
characteristic checks (about 90 MB of arrays that are only read), so every worker shares one copy
(copy-on-write) and no player's request pays its 0.7-second load.

After a worker has loaded the application:

1. one-time loads that would otherwise land on some player's request are done now (the word
   lists and inflection tables the characteristic checks use: about a second);
2. everything loaded so far (Django, DRF, allauth, numpy, the apps: over 100,000 objects that
   live as long as the worker) is moved to the permanent generation (``gc.freeze``), so Python's
   cyclic garbage collector no longer walks it in every full collection (tens of milliseconds,
   at random moments in random requests) and only walks what requests allocate.
"""

import gc

worker_class = "gthread"
threads = 1
keepalive = 5  # seconds an idle keep-alive connection stays open
# gunicorn 27's control interface (gunicornc) is not used here; its socket would be written under
# $HOME/.gunicorn or $XDG_RUNTIME_DIR, outside var/ (nothing is written there at run time).
control_socket_disable = True


def on_starting(server) -> None:
    from processing.nlp import language, letters

    language.identifier_load()
    letters.model_load()  # the junk check's English letter model (about 1 s), shared


def post_worker_init(worker) -> None:
    from processing.nlp import language
    from processing.nlp.refusals import check_characteristic, duplicate_form

    # loads the English word list (~50 MB) and confusables of the leak and junk checks, and the
    # other languages' word lists (~70 MB: any word English barely knows is looked up there;
    # left to the first such word, they cost some player 0.4 s); the language identifier was
    # loaded by the master (on_starting)
    for text in ("striped fur", "tabbi"):
        check_characteristic(text, class_names=["tabby, tabby cat"], aliases=["kitty"])
        duplicate_form(text)  # lemminflect's noun tables (the duplicate check)
    language.warm_up()
    gc.collect()
    gc.freeze()
