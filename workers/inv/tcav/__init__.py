"""TCAV: testing crowd concepts with Concept Activation Vectors (Kim et al. 2018; METHOD §10).

For one model, one layer l and one target class c:

1. **Activations** f_l(x) of concept examples and of a pool of random images, flattened to
   D = K·H·W (:func:`layer_activations`, via the engine's :func:`capture.capture`).
2. **CAV** of a concept: a seeded linear classifier (``logistic``: scikit-learn
   ``LogisticRegression``, L2, balanced classes, Newton–Cholesky solver; or ``sgd``:
   ``SGDClassifier``, hinge loss, as the reference implementation) separating concept (label 1)
   from a random counter-set (label 0); the CAV v is the unit normal of the hyperplane, pointing
   towards the concept. Before fitting, features are centred and divided by one global scalar
   (the pooled standard deviation): better conditioning, same hyperplane direction in activation
   space. The L2 solution lies in the span of the examples, so the classifier is fitted in an
   orthonormal basis of that span (n ≪ D, from the Gram matrix) and mapped back: exact and fast.
   With ``holdout`` > 0 a part of each side is held out and the CAV's accuracy on it is reported
   (the CAV is fitted on the rest, as in the reference code; with bootstrap resampling a
   duplicate may sit on both sides, so read it as an upper bound).
3. **Directional derivatives** S(x) = ∇_{f_l} y^c(x) · v on the class's images, with y^c the
   target **logit** (never the softmax) and the gradient w.r.t. the flattened layer activations
   (:func:`layer_gradients`). **TCAV score** = |{x : S(x) > 0}| / |X_c|.
4. **Significance**: ``n_runs`` runs; run r draws a counter-set A_r of ``m`` random images from
   the pool. Concept scores: CAV(concept_r vs A_r), concept_r a bootstrap sample of the concept
   set (``resample``). Null: J = ``n_null_sets`` fixed random sets B_j of the pool, each treated
   exactly like a concept (CAV(B_j,r vs A_r minus B_j) for every run r): random-vs-random CAVs,
   shared by all concepts of one call. Two p-values per concept (see ``TcavParams.test``):
   ``p_runs``, Kim et al.'s two-sided Welch t-test (``scipy.stats.ttest_ind``, ``equal_var=False``)
   of the concept's run scores against all null scores, and ``p_sets``, a prediction t-test of
   the concept's mean score against the J null sets' mean scores (calibrated). The chosen one is
   corrected for the number of concepts tested (Bonferroni by default, or Holm); significant iff
   the corrected p < ``alpha``. Zero variance on both sides: p = 1 if the means are equal, else 0.
5. **Rank agreement**: Spearman's ρ (``scipy.stats.spearmanr``) between the mean TCAV scores and
   an external label ranking (e.g. INV's G(s) for the class and layer) over the labels in both.

Concept examples from the campaign: :func:`masked_views` gives the revealed region of a cluster
map (the image × the Deep Reveal soft mask, hidden pixels black) at the model's input size. Build
the random counter-sets the same way (revealed regions of cluster maps of other images, not
carrying the label, at the same percent) so the CAV cannot separate the sets merely by their black
surround.

Runs are seeded: every random draw derives from ``TcavParams.seed``, the run index and a CRC-32
of the concept label (independent of the order of concepts). The device is the model's
(``LoadedModel.device``, chosen by ``load_model(..., device=...)``); CAVs are trained on the CPU.
"""

from ..validation_params import CLASSIFIERS, CORRECTIONS, RESAMPLING, TESTS, TcavParams
from .cav import tcav_score, train_cav
from .run import run_tcav, tcav_from_arrays
from .stats import adjust_pvalues, rank_agreement
from .types import Cav, ConceptScore, RankAgreement, TcavResult
from .views import layer_activations, layer_gradients, masked_views

__all__ = [
    "CLASSIFIERS",
    "CORRECTIONS",
    "RESAMPLING",
    "TESTS",
    "Cav",
    "ConceptScore",
    "RankAgreement",
    "TcavParams",
    "TcavResult",
    "adjust_pvalues",
    "layer_activations",
    "layer_gradients",
    "masked_views",
    "rank_agreement",
    "run_tcav",
    "tcav_from_arrays",
    "tcav_score",
    "train_cav",
]
