"""Clustered unit vectors that look like image embeddings, for search benchmarks.

Uniform random vectors in 512 dimensions are all nearly orthogonal: every neighbour is as
far as every other, graph indexes look broken and nothing real is measured. CLIP image
embeddings instead sit in a narrow cone (a shared mean direction), grouped by subject
(clusters of different sizes and tightness), with near-duplicates (bursts of shots). Within
a subject, photos vary along a few directions (pose, light, framing): the local intrinsic
dimension of image embeddings is a few dozen, not 512, so each cluster varies mostly in its
own low-rank subspace, plus a little isotropic noise.
"""

from __future__ import annotations

import numpy as np

DIM = 512
LOCAL_RANK = 16  # directions of variation within one subject
ISOTROPIC = 0.3  # share of the spread that is plain high-dimensional noise


class ClusteredVectors:
    """A reproducible generator: the same seed gives the same clusters for data and queries."""

    def __init__(self, count_hint: int, dim: int = DIM, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.clusters = max(8, count_hint // 100)  # about 100 photos per subject on average
        mean = _unit(rng.standard_normal(dim))
        offsets = _unit(rng.standard_normal((self.clusters, dim)))
        # The cone: every centre shares the mean direction (cosine between subjects ~0.3-0.6).
        self.centres = _unit(0.8 * mean + offsets * 0.9)
        self.weights = rng.pareto(1.2, self.clusters) + 0.05  # some subjects are much larger
        self.weights /= self.weights.sum()
        self.spread = rng.uniform(0.35, 0.8, self.clusters)  # tight and loose subjects
        self.rank = LOCAL_RANK
        self.seed = seed
        self._basis_seed = int(rng.integers(2**31))

    def _basis(self, cluster: int) -> np.ndarray:
        """The cluster's own directions of variation, [rank, dim] (made on demand: 1M rows need 10k of them)."""
        rng = np.random.default_rng([self._basis_seed, cluster])
        return rng.standard_normal((self.rank, self.dim)).astype(np.float32) / np.sqrt(self.dim)

    def sample(self, count: int, stream: int) -> np.ndarray:
        """`count` float32 unit vectors; different `stream`s give independent draws."""
        rng = np.random.default_rng([self.seed, stream])
        out = np.empty((count, self.dim), np.float32)
        step = 100_000  # bounded memory for a million vectors
        for start in range(0, count, step):
            n = min(step, count - start)
            which = rng.choice(self.clusters, size=n, p=self.weights)
            noise = rng.standard_normal((n, self.dim)).astype(np.float32) / np.sqrt(self.dim)
            chunk = self.centres[which] + ISOTROPIC * noise * self.spread[which, None]
            for cluster in np.unique(which):
                members = np.flatnonzero(which == cluster)
                z = rng.standard_normal((len(members), self.rank)).astype(np.float32)
                chunk[members] += (z @ self._basis(cluster)) * (self.spread[cluster] / np.sqrt(self.rank))
            # Bursts: every tenth vector is a near-duplicate of the one before it.
            burst = np.arange(1, n, 10)
            chunk[burst] = chunk[burst - 1] + 0.08 * noise[burst]
            out[start : start + n] = _unit(chunk)
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
