"""Every public docstring's ``Examples`` section runs as a doctest.

"Public" is what the API reference documents (``docs/_ext/api_reference.py``: every
name in the ``__all__`` of a public module), plus the public modules' own docstrings.
One test per docstring, run in its module's namespace as ``python -m doctest`` would.

A ratchet keeps the reference's coverage from shrinking: a public class or function
without an ``Examples`` section fails :func:`test_public_names_have_examples` unless it
is declared in :data:`MISSING_EXAMPLES`, and a declared name that gains one must leave
the list.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import api_reference  # noqa: E402

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Public classes and functions written before Examples were required. Remove a name
# once its docstring has an Examples section (the test below says when).
MISSING_EXAMPLES = frozenset(
    f"{module}.{name}"
    for module, names in {
        "sslts": "BaseSSLTransformer TrainContext TrainingDivergedError list_datasets load",
        "sslts.base": "BaseSSLEstimator",
        "sslts.augment": (
            "CropPair amplitude_resize apply_with_probability binomial_mask "
            "cubic_spline_basis cutout gaussian_noise jitter magnitude_warp random_crop "
            "sample_overlapping_crops scaling slice_and_shuffle time_warp "
            "timestamp_mask window_slice window_warp"
        ),
        "sslts.callbacks": "CSVLogger PrintLog ProgressBar TensorBoard",
        "sslts.distributed": (
            "all_reduce_mean broadcast_ data_parallel init_from_env is_distributed "
            "is_main_process rank_and_world shard"
        ),
        "sslts.encoders": "DilatedConvEncoder PostLNTransformerLayer ResNet18Encoder SamePadConv",
        "sslts.encoders.dilated_conv": "ConvBlock",
        "sslts.encoders.resnet": "BasicBlock1d",
        "sslts.encoders.transformer": "instance_normalise patchify",
        "sslts.encoding": "causal_encode",
        # scikit-learn's parameter constraints, re-exported as they are.
        "sslts.utils": "HasMethods Interval Options StrOptions",
        "sslts.evaluation": (
            "AnomalySeries ForecastData adf_differences evaluate_anomaly_detection "
            "evaluate_anomaly_scores evaluate_classification evaluate_forecasting "
            "evaluate_window_forecasting fit_knn fit_linear_svm fit_logistic "
            "load_ett load_ucr_anomaly mask_last_encode masked_errors "
            "pairwise_distances point_adjusted_scores suppress_nearby ts2vec_normalise"
        ),
        "sslts.losses": (
            "RelationHead hierarchical_contrastive_loss instance_contrastive_loss "
            "inter_sample_relation_loss intra_temporal_relation_loss level_losses "
            "masked_mse negative_cosine simsiam_loss single_level_loss "
            "temporal_contrastive_loss"
        ),
        "sslts.plotting": "plot_embedding_tsne plot_forecast plot_loss_history plot_resolutions",
        "sslts.utils.torch_utils": "RandomStreams",
    }.items()
    for name in names.split()
)


def _public_objects() -> list[tuple[str, object]]:
    entries = [e for items in api_reference.collect().values() for e in items]
    return [(e.path, _resolve(e.path)) for e in entries]


def _resolve(path: str):
    module_name, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), name)


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {}
    for name in api_reference.public_modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name, globs=vars(module).copy()):
            if test.name == name:  # the module docstring; members come below
                found[test.name] = test
    for path, obj in _public_objects():
        module = inspect.getmodule(obj)
        if module is None:  # data (constants) have no docstring of their own
            continue
        # Methods defined in the object's own module come along (recursion stops at
        # members inherited from other modules: their defining class is tested there).
        for test in finder.find(obj, path, module=module, globs=vars(module).copy()):
            found.setdefault(test.name, test)
    return sorted(found.values(), key=lambda t: t.name)


DOCTESTS = _doctests()


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples_run(test):
    # verbose=False: doctest would otherwise read pytest's own -v from sys.argv.  The
    # report is collected, not printed: while an example runs, print writes into
    # doctest's capture of that example's output (which then fails to match).
    runner = doctest.DocTestRunner(verbose=False, optionflags=OPTIONFLAGS)
    report = []
    runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples failed:\n" + "".join(report))


def test_the_doctests_are_found():
    # Guards the collection itself: the estimators' and a few functions' docstrings
    # have examples, so a finder that found nothing would make the test above vacuous.
    names = {t.name for t in DOCTESTS}
    assert {"sslts.TS2VecTransformer", "sslts.utils.series_lengths"} <= names
    assert len(DOCTESTS) > 50


def _lacking_examples() -> set[str]:
    return {
        path
        for path, obj in _public_objects()
        if (inspect.isclass(obj) or callable(obj)) and ">>>" not in (inspect.getdoc(obj) or "")
    }


def test_public_names_have_examples():
    lacking = _lacking_examples()
    documented = {path for path, _ in _public_objects()}
    new = sorted(lacking - MISSING_EXAMPLES)
    assert not new, (
        "Public names without an Examples section (numpydoc; a tiny doctest a reader can "
        f"follow): {new}"
    )
    stale = sorted(MISSING_EXAMPLES - (lacking & documented))
    assert not stale, f"Remove from MISSING_EXAMPLES (they have Examples now, or are gone): {stale}"
