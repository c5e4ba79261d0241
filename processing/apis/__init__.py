"""Processing's APIs, one module per concern (thin: selectors/services in, serializers out).

Researchers (``/api/processing/``, :class:`core.access.ResearcherApi`: the "researcher" group,
a campaign admin or staff): :mod:`.labels` (state, synonym groups, curation, mentions),
:mod:`.results` (scores, merged groups, globals), :mod:`.exports`, and the suggestions of
:mod:`.verification`, whose bonus questions players reach under ``/api/game/``.
ApplicationError becomes a 4xx ``{"detail": message}``.
"""
