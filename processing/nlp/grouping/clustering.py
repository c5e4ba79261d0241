"""Agglomerative clustering of a distance matrix: threshold, constrained, paper (silhouette)
and the scalable path (pure)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .distances import pairwise_distances
from .types import GroupingSettings


def _lance_williams(linkage: str, dik, djk, ni: int, nj: int):
    if linkage == "average":
        return (ni * dik + nj * djk) / (ni + nj)
    if linkage == "complete":
        return np.maximum(dik, djk)
    if linkage == "single":
        return np.minimum(dik, djk)
    return (dik + djk) / 2.0  # weighted (WPGMA)


def constrained_labels(
    dist: np.ndarray,
    *,
    linkage: str,
    threshold: float,
    must_link: Sequence[tuple[int, int]] = (),
    cannot_link: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Agglomerative clustering with constraints (COP-style), cut at ``threshold``.

    Must-linked items are joined first (union-find, in the given order; a must-link whose
    union would hold a cannot-linked pair is skipped); the groups' distances follow
    ``linkage`` over their members; then the closest pair of groups without a cannot-link
    between them is merged while its distance is ≤ ``threshold`` (Lance–Williams updates, so
    without constraints this is scipy's clustering cut at the same height, up to ties).
    O(n²) memory; each merge costs O(n) plus the rows whose nearest group changed.
    Returns labels 0..k−1 (first appearance order).
    """
    n = dist.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    assign, roots, cannot = _must_link_groups(n, must_link, cannot_link)
    k = len(roots)
    sizes = np.bincount(assign, minlength=k).astype(np.float64)
    cd = _group_distances(np.asarray(dist, dtype=np.float64), assign, roots, sizes, linkage)
    blocked_m = np.zeros((k, k), dtype=bool)
    for a, bs in cannot.items():
        for b in bs:
            blocked_m[assign[a], assign[b]] = True
    label = _merge_below(cd, blocked_m, sizes, linkage, threshold)
    final = label[assign]
    _, out = np.unique(final, return_inverse=True)
    # relabel by first appearance for stable output
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(x), len(order)) for x in out], dtype=np.int64)


def _condensed(dist: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform

    return squareform(dist, checks=False)


def _threshold_labels_exact(dist: np.ndarray, linkage: str, threshold: float) -> np.ndarray:
    n = dist.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage

    z = scipy_linkage(_condensed(dist), method=linkage)
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def _paper_labels(dist: np.ndarray, max_groups: int | None) -> np.ndarray:
    """Complete linkage; n groups maximising the mean silhouette over 2..N−1 (ties: smaller)."""
    n = dist.shape[0]
    if n < 3:
        return np.arange(n, dtype=np.int64)
    from scipy.cluster.hierarchy import linkage as scipy_linkage

    z = scipy_linkage(_condensed(dist), method="complete")
    k_max = n - 1 if max_groups is None else max(2, min(max_groups, n - 1))

    # Leaves of the nodes we will split (the top k_max − 1 merges), computed bottom-up.
    children = z[:, :2].astype(np.int64)
    members: dict[int, np.ndarray] = {}

    def leaves(node: int) -> np.ndarray:
        if node < n:
            return np.array([node], dtype=np.int64)
        if node not in members:
            stack, out = [node], []
            while stack:
                x = stack.pop()
                if x < n:
                    out.append(x)
                else:
                    stack.extend(children[x - n])
            members[node] = np.array(sorted(out), dtype=np.int64)
        return members[node]

    # Undo merges from the top: going from k−1 to k groups splits node n + (n − k).
    sums = np.zeros((n, k_max), dtype=np.float64)  # sums[i, s] = Σ_{j in slot s} d(i, j)
    sizes = np.zeros(k_max, dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    slot_of: dict[int, int] = {2 * n - 2: 0}
    sums[:, 0] = dist.sum(axis=1)
    sizes[0] = n
    rows = np.arange(n)
    best_k, best_score, best_labels = 2, -math.inf, None
    for k in range(2, k_max + 1):
        node = n + (n - k)
        a, b = (int(c) for c in children[node - n])
        slot = slot_of.pop(node)
        new = k - 1
        leaves_a, leaves_b = leaves(a), leaves(b)
        sum_a = dist[:, leaves_a].sum(axis=1)
        sums[:, new] = sums[:, slot] - sum_a
        sums[:, slot] = sum_a
        sizes[new] = len(leaves_b)
        sizes[slot] = len(leaves_a)
        labels[leaves_b] = new
        slot_of[a], slot_of[b] = slot, new
        # mean silhouette for this cut
        own = labels
        own_size = sizes[own]
        a_i = np.where(own_size > 1, sums[rows, own] / np.maximum(own_size - 1, 1), 0.0)
        means = sums[:, :k] / sizes[:k]
        means[rows, own] = np.inf
        b_i = means.min(axis=1)
        denom = np.maximum(a_i, b_i)
        s_i = np.where(
            (own_size > 1) & (denom > 0), (b_i - a_i) / np.where(denom > 0, denom, 1), 0.0
        )
        score = float(s_i.mean())
        if score > best_score + 1e-12:
            best_k, best_score, best_labels = k, score, labels.copy()
    assert best_labels is not None
    del best_k
    return best_labels


def _group_large(
    emb: np.ndarray,
    heads: np.ndarray | None,
    order: np.ndarray,
    settings: GroupingSettings,
    conflicts: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Scalable threshold grouping: exact on the ``max_exact`` first strings of ``order``
    (most frequent first), then the rest join the nearest group (by centroid) within the
    threshold and without a conflicting member; what stays unassigned is grouped recursively.
    """
    n = emb.shape[0]
    partners: dict[int, set[int]] = defaultdict(set)
    for i, j in conflicts:
        partners[i].add(j)
        partners[j].add(i)
    labels = np.full(n, -1, dtype=np.int64)
    next_label = 0
    remaining = order
    while len(remaining):
        core, rest = remaining[: settings.max_exact], remaining[settings.max_exact :]
        sub_heads = None if heads is None else heads[core]
        dist = pairwise_distances(emb[core], sub_heads, settings.head_weight)
        position = {int(g): k for k, g in enumerate(core)}
        for k, g in enumerate(core):
            for other in partners.get(int(g), ()):
                if other in position:
                    dist[k, position[other]] = dist[position[other], k] = 2.0
        core_labels = _threshold_labels_exact(dist, settings.linkage, settings.threshold)
        k = int(core_labels.max()) + 1
        labels[core] = core_labels + next_label
        if not len(rest):
            break
        onehot = np.zeros((k, len(core)), dtype=np.float32)
        onehot[core_labels, np.arange(len(core))] = 1.0
        onehot /= onehot.sum(axis=1, keepdims=True)
        centroids = onehot @ emb[core]
        sim = emb[rest] @ centroids.T
        if heads is not None and settings.head_weight > 0:
            head_centroids = onehot @ heads[core]
            sim = (1 - settings.head_weight) * sim + settings.head_weight * (
                heads[rest] @ head_centroids.T
            )
        core_label_of = dict(zip(core.tolist(), core_labels.tolist()))
        for r, g in enumerate(rest):
            for other in partners.get(int(g), ()):
                if other in core_label_of:
                    sim[r, core_label_of[other]] = -np.inf
        nearest = sim.argmax(axis=1)
        ok = 1.0 - sim[np.arange(len(rest)), nearest] <= settings.threshold
        labels[rest[ok]] = nearest[ok] + next_label
        next_label += k
        remaining = rest[~ok]
    return labels


def _linkage_of(linkage: str, dist: np.ndarray) -> float:
    if linkage == "complete":
        return float(dist.max())
    if linkage == "single":
        return float(dist.min())
    return float(dist.mean())  # average (and weighted, whose one-step value is the same)


def _must_link_groups(
    n: int, must_link: Sequence[tuple[int, int]], cannot_link: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, list[int], dict[int, set[int]]]:
    """Union-find over the must-links (a must-link joining a cannot-linked pair is skipped):
    per item its group index, the groups' root items, and item → cannot-linked items."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    cannot: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot_link:
        if a != b:
            cannot[a].add(b)
            cannot[b].add(a)
    members: dict[int, set[int]] = {i: {i} for i in range(n)}
    for a, b in must_link:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if any(find(x) == rb for m in members[ra] for x in cannot.get(m, ())):
            continue
        parent[rb] = ra
        members[ra] |= members.pop(rb)
    roots = sorted({find(i) for i in range(n)})
    index = {r: c for c, r in enumerate(roots)}
    return np.array([index[find(i)] for i in range(n)], dtype=np.int64), roots, cannot


def _group_distances(
    d: np.ndarray, assign: np.ndarray, roots: Sequence[int], sizes: np.ndarray, linkage: str
) -> np.ndarray:
    """(k, k) linkage distances between the must-link groups (a copy; diagonal unspecified)."""
    k, n = len(roots), d.shape[0]
    if k == n:
        return d[np.ix_(roots, roots)].copy()
    if linkage == "average":
        onehot = np.zeros((k, n))
        onehot[assign, np.arange(n)] = 1.0
        return (onehot @ d @ onehot.T) / np.outer(sizes, sizes)
    cd = np.empty((k, k))
    groups = [np.flatnonzero(assign == c) for c in range(k)]
    for c1 in range(k):
        for c2 in range(c1, k):
            block = d[np.ix_(groups[c1], groups[c2])]
            if linkage == "complete":
                v = block.max()
            elif linkage == "single":
                v = block.min()
            else:
                v = block.mean()
            cd[c1, c2] = cd[c2, c1] = v
    return cd


def _merge_below(
    cd: np.ndarray, blocked_m: np.ndarray, sizes: np.ndarray, linkage: str, threshold: float
) -> np.ndarray:
    """Merge the closest unblocked pair of groups while its distance is ≤ ``threshold``
    (Lance–Williams updates of ``cd``, ``blocked_m`` and ``sizes`` in place); returns each
    group's final label (the index of the group it was merged into)."""
    k = cd.shape[0]
    np.fill_diagonal(cd, np.inf)
    work = np.where(blocked_m, np.inf, cd)
    active = np.ones(k, dtype=bool)
    nearest = work.argmin(axis=1)
    nearest_d = work[np.arange(k), nearest]
    label = np.arange(k)
    while True:
        i = int(np.argmin(nearest_d))
        if not nearest_d[i] <= threshold:
            return label
        j = int(nearest[i])
        # merge j into i
        row = _lance_williams(linkage, cd[i], cd[j], sizes[i], sizes[j])
        cd[i, :] = cd[:, i] = row
        cd[i, i] = np.inf
        blocked_m[i, :] |= blocked_m[j, :]
        blocked_m[:, i] = blocked_m[i, :]
        sizes[i] += sizes[j]
        active[j] = False
        label[label == j] = i
        cd[j, :] = cd[:, j] = np.inf
        work_i = np.where(blocked_m[i] | ~active, np.inf, cd[i])
        work_i[i] = np.inf
        work[i, :] = work[:, i] = work_i
        work[j, :] = work[:, j] = np.inf
        nearest_d[j] = np.inf
        nearest[i] = int(np.argmin(work_i))
        nearest_d[i] = work_i[nearest[i]]
        for r in np.flatnonzero(active & ((nearest == i) | (nearest == j))):
            if r != i:
                nearest[r] = int(np.argmin(work[r]))
                nearest_d[r] = work[r, nearest[r]]
        closer = np.flatnonzero(active & (work_i < nearest_d))
        nearest[closer] = i
        nearest_d[closer] = work_i[closer]
