"""The loop's hooks and the shipped callbacks, on every registered estimator."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest
import torch
from estimator_configs import (
    configured_estimators,
    estimator_id,
    make_tiny,
    model_output,
    small_series,
)
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import IARSTransformer, TS2VecTransformer, load_dataset
from sslts._loop import HOOKS
from sslts.callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    PrintLog,
    TensorBoard,
)

ESTIMATORS = configured_estimators()
X = small_series(n_series=12, n_timestamps=24)  # batches of 4: three steps per epoch


class Recorder(Callback):
    """Records every hook call with the context's counters at that moment."""

    def __init__(self):
        self.calls = []

    def _record(self, hook, est, ctx):
        self.calls.append((hook, ctx.epoch, ctx.step_in_epoch, est.n_iter_))

    def on_fit_start(self, est, ctx):
        self._record("on_fit_start", est, ctx)

    def on_epoch_start(self, est, ctx):
        self._record("on_epoch_start", est, ctx)

    def on_step_end(self, est, ctx):
        assert ctx.loss is not None and ctx.loss.ndim == 0
        self._record("on_step_end", est, ctx)

    def on_epoch_end(self, est, ctx):
        assert {"epoch", "loss", "lr", "epoch_time"} <= set(ctx.logs)
        self._record("on_epoch_end", est, ctx)

    def on_fit_end(self, est, ctx):
        assert ctx.logs["status"] == "completed"
        self._record("on_fit_end", est, ctx)


def _epochs(cls, n_epochs, **params):
    return make_tiny(cls, n_iters=None, n_epochs=n_epochs, **params)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_hooks_are_called_in_order_with_the_right_counts(cls):
    est = _epochs(cls, 2, callbacks=[Recorder()]).fit(X)
    calls = est.callbacks_[0].calls
    steps = est.n_iter_ // 2
    epoch = [("on_epoch_start",)] + [("on_step_end",)] * steps + [("on_epoch_end",)]
    assert [c[:1] for c in calls] == [("on_fit_start",)] + epoch * 2 + [("on_fit_end",)]
    step_calls = [c for c in calls if c[0] == "on_step_end"]
    assert [c[3] for c in step_calls] == list(range(1, est.n_iter_ + 1))  # global step
    assert [c[2] for c in step_calls] == list(range(steps)) * 2  # step in epoch
    assert [c[1] for c in calls if c[0] == "on_epoch_end"] == [1, 2]  # epochs completed


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_the_method_hooks_run_before_the_callbacks_but_at_fit_start(cls, monkeypatch):
    order = []
    est = _epochs(cls, 1)
    for hook in HOOKS:
        original = getattr(est, hook)

        def method_hook(ctx, hook=hook, original=original):
            order.append(("method", hook))
            original(ctx)

        monkeypatch.setattr(est, hook, method_hook)

    class Second(Callback):
        pass

    for hook in HOOKS:
        setattr(Second, hook, lambda self, e, c, hook=hook: order.append(("callback", hook)))
    est.set_params(callbacks=[Second()]).fit(X)
    for hook in HOOKS:
        first = [who for who, h in order if h == hook][:2]
        expected = ["callback", "method"] if hook == "on_fit_start" else ["method", "callback"]
        assert first == expected, hook


def test_the_last_step_flags_follow_the_budget():
    seen = []

    class Flags(Callback):
        def on_step_end(self, est, ctx):
            seen.append((ctx.is_last_step_of_epoch, ctx.is_last_step))

    make_tiny(TS2VecTransformer, n_iters=5, callbacks=[Flags()]).fit(X)
    # Three steps per epoch; the budget ends on the second step of epoch 2.
    assert seen == [(False, False), (False, False), (True, False), (False, False), (True, True)]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_early_stopping_monitors_the_held_out_loss(cls, monkeypatch):
    est = _epochs(cls, 20, callbacks=[EarlyStopping(patience=2, validation_fraction=0.25)])
    original = est.training_step
    held_out_sizes = []

    def step(module, batch, ctx):
        loss = original(module, batch, ctx)
        if not ctx.training:  # a held-out loss that never improves after epoch 1
            held_out_sizes.append(len(batch))
            return loss * 0 + 1.0
        return loss

    monkeypatch.setattr(est, "training_step", step)
    est.fit(X)
    stop = est.callbacks_[0]
    assert est.n_epochs_ == 3 and stop.stopped_epoch_ == 3  # best at 1, stale twice
    assert stop.history_ == [1.0, 1.0, 1.0]
    assert sum(held_out_sizes) == 3 * 3  # 3 of the 12 series, every epoch
    # The 9 remaining series make two batches of 4 per epoch (the single last is skipped).
    assert est.n_iter_ == 3 * 2


def test_early_stopping_on_real_data_stops_before_the_budget(shared_data):
    X_train = load_dataset("GunPoint", data_home=shared_data)[0]
    stop = EarlyStopping(patience=1, tol=0.0, validation_fraction=0.2)
    est = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_epochs=40, lr=0.05,
                            random_state=0, device="cpu", callbacks=[stop]).fit(X_train)
    stopped = est.callbacks_[0]
    assert est.n_epochs_ < 40 and stopped.stopped_epoch_ == est.n_epochs_
    history = stopped.history_
    assert min(history[-2:]) >= stopped.best_  # the last epoch did not improve
    assert np.all(np.isfinite(history))


def test_early_stopping_needs_two_series_on_each_side():
    est = make_tiny(TS2VecTransformer, callbacks=[EarlyStopping(validation_fraction=0.01)])
    with pytest.raises(ValueError, match="validation_fraction=0.01 of 12"):
        est.fit(X)


def test_learning_rate_scheduler_changes_the_optimiser_lr():
    seen = []

    class LR(Callback):
        def on_epoch_start(self, est, ctx):
            seen.append(ctx.optimizer.param_groups[0]["lr"])

    sched = LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    _epochs(TS2VecTransformer, 3, lr=1e-2, callbacks=[sched, LR()]).fit(X)
    np.testing.assert_allclose(seen, [1e-2, 5e-3, 2.5e-3])


def test_per_step_schedule_and_plateau_schedule():
    seen = []

    class LR(Callback):
        def on_step_end(self, est, ctx):
            seen.append(ctx.optimizer.param_groups[0]["lr"])

    sched = LearningRateScheduler(torch.optim.lr_scheduler.LambdaLR, step_every="step",
                                  lr_lambda=lambda k: 1.0 / (k + 1))
    _epochs(TS2VecTransformer, 1, lr=1.0, callbacks=[sched, LR()]).fit(X)
    np.testing.assert_allclose(seen, [1 / 2, 1 / 3, 1 / 4])  # read after each step's update
    plateau = LearningRateScheduler(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0,
                                    factor=0.1, threshold=1e9)
    est = _epochs(TS2VecTransformer, 3, lr=1.0, callbacks=[plateau]).fit(X)
    assert est.callbacks_[0].scheduler_.optimizer.param_groups[0]["lr"] < 1.0


def test_history_csv_and_print_log(tmp_path, capsys):
    path = tmp_path / "log.csv"
    est = _epochs(TS2VecTransformer, 2, callbacks=[History(), CSVLogger(path), PrintLog()])
    est.fit(X)
    history = est.callbacks_[0].history_
    assert [row["epoch"] for row in history] == [1, 2]
    assert [row["loss"] for row in history] == est.loss_history_
    rows = list(csv.DictReader(path.open()))
    assert [float(r["loss"]) for r in rows] == pytest.approx(est.loss_history_)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("TS2VecTransformer epoch    1")
    assert lines[1].endswith(" s")  # elapsed time


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    _epochs(TS2VecTransformer, 2, callbacks=[TensorBoard(tmp_path)]).fit(X)
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_fit_never_changes_the_callbacks_it_was_given():
    history = History()
    est = _epochs(TS2VecTransformer, 2, callbacks=[history]).fit(X)
    assert not hasattr(history, "history_")
    assert est.callbacks[0] is history and est.callbacks_[0] is not history
    assert len(est.callbacks_[0].history_) == 2


def test_callbacks_survive_clone_params_pickle_and_parallel_grid_search():
    est = _epochs(TS2VecTransformer, 2, callbacks=[History(), EarlyStopping(patience=3)])
    cloned = clone(est)
    assert [type(cb) for cb in cloned.callbacks] == [History, EarlyStopping]
    assert cloned.callbacks[1].patience == 3
    cloned.set_params(callbacks=[History()])
    assert len(cloned.get_params()["callbacks"]) == 1
    fitted = pickle.loads(pickle.dumps(est.fit(X)))
    assert len(fitted.callbacks_[0].history_) == 2
    y = np.arange(len(X)) % 2
    pipe = Pipeline([("enc", est), ("svc", SVC())])
    grid = GridSearchCV(pipe, {"svc__C": [1.0, 10.0]}, cv=2, n_jobs=2).fit(X, y)
    enc = grid.best_estimator_["enc"]
    assert len(enc.callbacks_[0].history_) == 2


def test_a_callback_that_is_not_one_is_refused():
    with pytest.raises(TypeError, match="Callback instances"):
        _epochs(TS2VecTransformer, 1, callbacks=[object()]).fit(X)


def test_at_most_one_checkpoint(tmp_path):
    est = _epochs(TS2VecTransformer, 1, callbacks=[Checkpoint(tmp_path / "a")])
    with pytest.raises(ValueError, match="at most one Checkpoint"):
        est.fit(X, checkpoint=tmp_path / "b")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_resume_restores_callback_state_exactly(cls, tmp_path):
    def callbacks():
        return [EarlyStopping(patience=10, validation_fraction=0.25), History(),
                Checkpoint(tmp_path, every=1)]

    reference = _epochs(cls, 4, callbacks=callbacks()[:2]).fit(X)

    class StopAfter(Callback):  # a Ctrl-C at the end of epoch 3
        def on_epoch_end(self, est, ctx):
            if ctx.epoch == 3:
                raise KeyboardInterrupt

    first = _epochs(cls, 4, callbacks=[*callbacks(), StopAfter()])
    with pytest.warns(RuntimeWarning, match="interrupted"):
        first.fit(X)
    assert first.n_epochs_ == 3  # checkpoints 1 and 2 are on disk, epoch 3 is redone
    again = _epochs(cls, 4, callbacks=callbacks()).fit(X)
    assert again.loss_history_ == reference.loss_history_
    assert again.callbacks_[0].history_ == reference.callbacks_[0].history_
    assert [r["loss"] for r in again.callbacks_[1].history_] == reference.loss_history_
    np.testing.assert_array_equal(model_output(again, X), model_output(reference, X))


def test_iars_overrides_no_loop_internal():
    internals = ("_initialise", "_run_epoch", "_update_average", "_start_loop", "_train",
                 "_end_epoch", "_optimizer_step", "prepare_training_data")
    assert not [name for name in internals if name in vars(IARSTransformer)]
    assert {"on_fit_start", "training_step", "on_epoch_end"} <= set(vars(IARSTransformer))


def test_a_crash_reports_failed_and_writes_no_checkpoint(tmp_path, monkeypatch):
    statuses = []

    class Status(Callback):
        def on_fit_end(self, est, ctx):
            statuses.append(ctx.logs["status"])

    est = _epochs(TS2VecTransformer, 3, verbose=2, callbacks=[Status()])

    def broken(module, batch, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(est, "training_step", broken)
    with pytest.raises(RuntimeError, match="boom"):
        est.fit(X, checkpoint=tmp_path)
    assert statuses == ["failed"]
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_callback_failing_at_fit_start_is_the_error_the_user_sees():
    class Broken(Callback):
        def on_fit_start(self, est, ctx):
            raise ValueError("bad callback")

    # ProgressBar and TensorBoard never started: their on_fit_end must stay quiet.
    est = _epochs(TS2VecTransformer, 1, verbose=2, callbacks=[Broken()])
    with pytest.raises(ValueError, match="bad callback"):
        est.fit(X)
