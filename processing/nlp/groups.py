"""The in-memory algebra of synonym groups (METHOD §6.4–6.5), on plain data.

A :class:`WorkingGroup` is a mutable copy of one stored group while it changes: its member keys
with their counts and surface spellings, its canonical label, a curated name, a blocked flag.
The services load groups from the database into working groups, change them with the functions
below and write back the ones marked ``dirty``; nothing here knows about the database.

* :func:`canonical_update` — recompute a group's canonical label (METHOD §6.5).
* :func:`groups_unify` — groups of one class whose canonical lemmas are equal become one.
* :func:`rule_apply` / :func:`rules_apply` — a researcher's curation (rename, merge, split,
  block, unblock) on a class's groups; rules are re-applied after every regroup.
* :func:`nearest_group` — the existing group a new key joins (incremental path), if any.
* :func:`groups_from_report` — the working groups of one class after a full regroup.
* :func:`bucket_of` / :func:`bucket_class` — the grouping bucket of a characteristic: its
  guessed class, and its language when that is not the campaign's main one.

Origins and curation actions are the plain strings the models store
(``LabelGroup.Origin``, ``CurationRule.Action``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from processing.nlp.embed import Embedder
from processing.nlp.grouping import GroupingSettings, canonical_label, head_word
from processing.nlp.language import text_language
from processing.nlp.pipeline import GroupingReport, assign_label

#: Where a group comes from (``LabelGroup.Origin``).
ORIGIN_REBUILD = "rebuild"
ORIGIN_INCREMENTAL = "incremental"
ORIGIN_CURATION = "curation"

#: Curation actions (``CurationRule.Action``).
RENAME = "rename"
MERGE = "merge"
SPLIT = "split"
BLOCK = "block"
UNBLOCK = "unblock"

#: Embeds strings as grouping does: (n,) strings -> (n, d) vectors.
Embed = Callable[[Sequence[str]], np.ndarray]


class Rule(Protocol):
    """A curation rule (``CurationRule`` or any object with these attributes)."""

    action: str
    class_name: str
    keys: Sequence[str]
    name: str


@dataclass
class WorkingGroup:
    """A mutable copy of one synonym group while it is being changed.

    counts: member key -> mentions; surfaces: member key -> {spelling as typed: mentions}.
    ``pk`` is the stored group's id (None: not stored yet); ``label_before`` its label when it
    was loaded. ``dirty``: must be written; ``moved``: keys came from other groups, so their
    mentions must follow. embeddings / heads: the members' vectors, filled on demand by
    :func:`nearest_group`.
    """

    class_name: str
    counts: dict[str, int]
    surfaces: dict[str, dict[str, int]]
    canonical: str = ""
    canonical_lemma: str = ""
    score: float = 0.0
    name: str = ""
    blocked: bool = False
    origin: str = ORIGIN_REBUILD
    pk: int | None = None
    label_before: str | None = None
    dirty: bool = True
    moved: bool = False
    embeddings: list[np.ndarray] = field(default_factory=list, repr=False)
    heads: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        """What scores use: the curated name, else the canonical label."""
        return self.name or self.canonical

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def members(self) -> list[str]:
        """Member keys, most mentioned first (ties alphabetically)."""
        return sorted(self.counts, key=lambda k: (-self.counts[k], k))

    def add(self, key: str, surface: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
        tally = self.surfaces.setdefault(key, {})
        tally[surface or key] = tally.get(surface or key, 0) + n
        self.dirty = True

    def absorb(self, other: WorkingGroup) -> None:
        """Take every member of ``other`` (which the caller then drops)."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
            tally = self.surfaces.setdefault(key, {})
            for s, c in other.surfaces.get(key, {}).items():
                tally[s] = tally.get(s, 0) + c
        self.embeddings = []
        self.heads = []
        self.blocked = self.blocked or other.blocked
        self.name = self.name or other.name
        self.dirty = True
        self.moved = True

    def take(self, keys: Iterable[str]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """Remove ``keys`` from the group; returns their counts and surfaces."""
        counts, surfaces = {}, {}
        for key in keys:
            if key in self.counts:
                counts[key] = self.counts.pop(key)
                surfaces[key] = self.surfaces.pop(key, {key: counts[key]})
        if counts:
            self.embeddings = []
            self.heads = []
            self.dirty = True
        return counts, surfaces


def canonical_update(group: WorkingGroup, embed: Embed) -> None:
    """Recompute the canonical label (METHOD §6.5) of a changed group."""
    members = group.members()
    counts = [group.counts[k] for k in members]
    shown, lemma, score = canonical_label(
        members, counts, embed(members), surfaces=group.surfaces, embed=embed
    )
    group.canonical, group.canonical_lemma, group.score = shown, lemma, score


def groups_unify(groups: list[WorkingGroup], embed: Embed) -> list[WorkingGroup]:
    """Groups of one class whose canonical lemmas are equal become one (METHOD §6.5).

    The group with more mentions (then the older one) absorbs the other."""
    by_lemma: dict[str, WorkingGroup] = {}
    out: list[WorkingGroup] = []
    for g in sorted(groups, key=lambda g: (-g.total, g.pk is None, g.pk or 0)):
        keep = by_lemma.get(g.canonical_lemma)
        if keep is None:
            by_lemma[g.canonical_lemma] = g
            out.append(g)
        else:
            keep.absorb(g)
            canonical_update(keep, embed)
    return out


def lemma_disambiguate(groups: Sequence[WorkingGroup], fixed: WorkingGroup) -> None:
    """Give ``fixed`` (a curated group kept apart) a lemma no other group of its class uses."""
    taken = {g.canonical_lemma for g in groups if g is not fixed}
    if fixed.canonical_lemma not in taken:
        return
    for key in fixed.members():
        if key not in taken:
            fixed.canonical_lemma = key
            return
    n = 2
    while f"{fixed.canonical_lemma} ({n})" in taken:
        n += 1
    fixed.canonical_lemma = f"{fixed.canonical_lemma} ({n})"


def _rule_mark(hit: list[WorkingGroup], rule: Rule, keys: set[str]) -> None:
    """Rename or unblock: the group holding most of the rule's keys."""
    target = max(hit, key=lambda g: (sum(g.counts.get(k, 0) for k in keys), g.total))
    if rule.action == RENAME:
        target.name = rule.name
    else:
        target.blocked = False
    target.dirty = True


def _rule_merge(
    groups: list[WorkingGroup], hit: list[WorkingGroup], rule: Rule, embed: Embed
) -> list[WorkingGroup]:
    """Merge: the biggest group (then the older) absorbs every other group the keys touch."""
    target = max(hit, key=lambda g: (g.total, -(g.pk or 0)))
    for g in hit:
        if g is not target:
            target.absorb(g)
    if rule.name:
        target.name = rule.name
    target.origin = ORIGIN_CURATION
    canonical_update(target, embed)
    groups = [g for g in groups if g is target or g not in hit]
    lemma_disambiguate(groups, target)
    return groups


def _rule_separate(
    groups: list[WorkingGroup], hit: list[WorkingGroup], rule: Rule, embed: Embed
) -> list[WorkingGroup]:
    """Split or block: the keys leave their groups and form one group (named, or blocked)."""
    keys = set(rule.keys)
    whole = [g for g in hit if g.counts.keys() <= keys]
    if len(hit) == 1 and whole:  # already exactly (a subset of) these keys: mark it
        target = hit[0]
    else:
        counts: dict[str, int] = {}
        surfaces: dict[str, dict[str, int]] = {}
        for g in hit:
            c, s = g.take(keys)
            counts.update(c)
            surfaces.update(s)
        reuse = max(whole, key=lambda g: g.total) if whole else None
        groups = [g for g in groups if g.counts]
        target = WorkingGroup(
            class_name=rule.class_name,
            counts=counts,
            surfaces=surfaces,
            moved=True,
            origin=ORIGIN_CURATION,
            pk=reuse.pk if reuse is not None else None,
            label_before=reuse.label_before if reuse is not None else None,
        )
        groups.append(target)
        for g in hit:
            if g.counts:
                canonical_update(g, embed)
        canonical_update(target, embed)
    if rule.name:
        target.name = rule.name
    if rule.action == BLOCK:
        target.blocked = True
    target.dirty = True
    lemma_disambiguate(groups, target)
    return groups


def rule_apply(groups: list[WorkingGroup], rule: Rule, embed: Embed) -> list[WorkingGroup]:
    """Apply one curation rule to a class's working groups; returns the new list."""
    keys = set(rule.keys)
    hit = [g for g in groups if keys & g.counts.keys()]
    if not hit:
        return groups
    if rule.action in (RENAME, UNBLOCK):
        _rule_mark(hit, rule, keys)
        return groups
    if rule.action == MERGE:
        return _rule_merge(groups, hit, rule, embed)
    return _rule_separate(groups, hit, rule, embed)


def rules_apply(
    groups: list[WorkingGroup], rules: Iterable[Rule], embed: Embed
) -> list[WorkingGroup]:
    """Apply curation rules in order (each sees the groups the previous one left)."""
    for rule in rules:
        groups = rule_apply(groups, rule, embed)
    return groups


def rule_target(
    groups: Iterable[WorkingGroup], keys: Iterable[str], changed: set[int]
) -> WorkingGroup | None:
    """The group a curation of ``keys`` produced: a changed group holding some of the keys,
    else any group holding some of them (None: the keys are gone)."""
    groups = list(groups)
    key_set = set(keys)
    return next(
        (g for g in groups if key_set & g.counts.keys() and g.pk in changed),
        None,
    ) or next((g for g in groups if key_set & g.counts.keys()), None)


def nearest_group(
    key: str,
    groups: list[WorkingGroup],
    *,
    embedder: Embedder,
    embed: Embed,
    settings: GroupingSettings,
    blocked: Sequence[int] = (),
) -> WorkingGroup | None:
    """The existing group a new key joins (nearest within the threshold), or None; never one
    of ``blocked`` (indexes of groups holding another characteristic of the key's round: a
    cannot-link). Members' vectors are looked up once per group and kept on the groups."""
    if not groups:
        return None
    stale = [g for g in groups if len(g.embeddings) != len(g.counts)]
    if stale:  # one lookup for every member (and head) of the groups without vectors
        keys = [k for g in stale for k in g.counts]
        vectors = embed(keys)
        heads = embed([head_word(k) for k in keys])
        i = 0
        for g in stale:
            n = len(g.counts)
            g.embeddings = list(vectors[i : i + n])
            g.heads = list(heads[i : i + n])
            i += n
    assignment, vector, head = assign_label(
        key,
        groups_members=[list(g.counts) for g in groups],
        groups_embeddings=[np.stack(g.embeddings) for g in groups],
        groups_head_embeddings=[np.stack(g.heads) for g in groups],
        embedder=embedder,
        settings=settings,
        blocked=blocked,
    )
    if assignment.index is None:
        return None
    group = groups[assignment.index]
    group.embeddings.append(vector)
    group.heads.append(head)
    return group


def groups_from_report(class_name: str, report: GroupingReport) -> list[WorkingGroup]:
    """The working groups of one class after a full regroup, with the surface spellings of
    their members' accepted labels (not stored yet: ``pk`` None, ``dirty``)."""
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for p in report.labels:
        if p.refused_reason is None:
            surfaces[p.key][p.surface or p.key] += 1
    return [
        WorkingGroup(
            class_name=class_name,
            counts=dict(zip(g.members, g.member_counts)),
            surfaces={k: dict(surfaces[k]) for k in g.members},
            canonical=g.canonical,
            canonical_lemma=g.canonical_lemma,
            score=g.score,
        )
        for g in report.groups
    ]


def pks_reuse(
    working: Mapping[str, list[WorkingGroup]], old_pk: Mapping[tuple[str, str], int]
) -> None:
    """After a regroup, a group keeps the id of the old group of its class with the same
    canonical lemma (``old_pk``: (class, lemma) -> id); each id is used once (a later group
    with a taken id gets a new one). Every group becomes dirty."""
    used: set[int] = set()
    for cls, groups in working.items():
        for g in groups:
            pk = old_pk.get((cls, g.canonical_lemma))
            g.pk = None if pk in used else pk
            if g.pk is not None:
                used.add(g.pk)
            g.dirty = True


def relabelled_keys(
    before: Mapping[int, tuple[str, set[str]]],
    groups: Iterable[WorkingGroup],
    *,
    changed: set[int],
    deleted: set[int],
) -> set[str] | None:
    """Keys whose label changed: the old members of saved groups whose label changed and of
    deleted groups (``before``: group id -> (label, member keys) when loaded). None when no
    stored group changed its label or vanished."""
    keys: set[str] | None = None
    for g in groups:
        if g.pk in before and g.pk in changed and before[g.pk][0] != g.label:
            keys = (keys or set()) | before[g.pk][1]
    for pk in deleted:
        keys = (keys or set()) | before.get(pk, ("", set()))[1]
    return keys


_BUCKET_RE = re.compile(r"^(.*) \[([a-z]{2})\]$")


def bucket_of(class_name: str, text: str, *, languages: Sequence[str]) -> str:
    """The grouping bucket of a characteristic: its guessed class, and its language when that
    is not the campaign's main one (``languages[0]``), as "tabby [fr]": labels of different
    languages are never grouped together (issue 12)."""
    if len(languages) == 1:
        return class_name
    language = text_language(text, languages=tuple(languages))
    return class_name if language == languages[0] else f"{class_name} [{language}]"


def bucket_class(bucket: str) -> str:
    """The guessed class of a bucket ("tabby [fr]" -> "tabby")."""
    match = _BUCKET_RE.match(bucket)
    return match.group(1) if match else bucket


def regroup_due(*, growth: float, minimum: int, since: int, at_rebuild: int) -> bool:
    """Whether the mentions placed incrementally since the last full regroup (``since``)
    reached max(minimum, growth × mentions at that regroup); growth 0 never regroups."""
    return growth > 0 and since >= max(minimum, growth * at_rebuild)
