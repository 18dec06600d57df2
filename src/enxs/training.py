"""Training an ensemble: one loop for all K members (pre-training and fine-tuning alike).

Per member k (Kowal et al., Phys. Rev. C 110, 025501 (2024); NNPDF: Forte et al., JHEP 05 (2002) 062):
- its own replica of the training data, σ^(k)_i = σ_i (1 + Δλ_d r_d) + Δσ_i r_i, r ~ N(0, 1)
  (the normalization draw r_d only with ``fluctuate_norm``);
- its own train/validation split of the training part;
- λ_k profiled in closed form (``loss.profile_lambda``) from the previous epoch's predictions;
- the weights of its best validation χ² kept (early stopping per member), a parent's among them: a
  fine-tuned member that never beats its base on its validation points keeps the base (a fresh start
  does not compete: the from-scratch baseline of a few points would keep its random start).

Member batches are drawn independently ([K, B] index tensors) and run through the stacked
network together, so one optimizer step updates all K members at once. Computation only:
files are written by the caller through :meth:`Trainer.state` / :meth:`Trainer.load_state`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from enxs.artifacts import ModelFileError
from enxs.config import Config, TrainConfig
from enxs.datasets import dataset_info, total_error
from enxs.descriptors import table_inputs
from enxs.loss import data_chi2, fix_common_scale, lambda_sums, profile_lambda, training_loss
from enxs.network import EnsembleNet
from enxs.structured import OWN_SHARE, SMOOTHNESS_EVERY


@dataclass
class PointSet:
    """Measured points as tensors: features [N, 5] (NuWro scaling), σ, Δσ, S [N] in
    nb/sr/GeV, dataset index [N] into ``labels``, and Δλ per dataset [D]."""

    features: torch.Tensor
    sigma: torch.Tensor
    error: torch.Tensor
    scale: torch.Tensor
    dataset: torch.Tensor
    norm_unc: torch.Tensor
    labels: list[str]

    @classmethod
    def from_table(cls, table: pd.DataFrame, norm_overrides: dict[str, float] | None = None,
                   p2p_sys: float | None = None, nucleus_inputs: str = "none") -> PointSet:
        """Points of one or several nuclei (a dataset of another nucleus is another dataset)."""
        labels = list(dict.fromkeys(table.dataset))
        codes = table.dataset.map({k: i for i, k in enumerate(labels)}).to_numpy()
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
        features, scale = table_inputs(nucleus_inputs, table)
        return cls(
            features=f32(features),
            sigma=f32(table.sigma), error=f32(total_error(table, p2p_sys)), scale=f32(scale),
            dataset=torch.as_tensor(codes.copy(), dtype=torch.long),
            norm_unc=f32([dataset_info(k, norm_overrides).norm_unc for k in labels]),
            labels=labels,
        )

    def __len__(self) -> int:
        return len(self.sigma)

    def to(self, device: torch.device | str) -> PointSet:
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return PointSet(**moved)


def split_points(n: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic point-by-point split of n points: (train, held-out) sorted index arrays.

    The held-out part has round((1 − train_fraction) · n) points (at least 1, at most n − 1),
    drawn by ``seed``.
    """
    return _holdout(n, 1 - train_fraction, seed)


def split_settings(setting: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic split by whole settings: ``setting`` [n] labels each point's (E, θ)
    spectrum; settings drawn in a seeded order go to the held-out part until it holds at
    least round((1 − train_fraction) · n) points (always ≥ 1 setting, never all).
    Returns (train, held-out) sorted index arrays."""
    labels, codes = np.unique(setting, return_inverse=True)
    if len(labels) < 2:
        raise ValueError("a split by settings needs at least two (E, θ) settings")
    order = np.random.default_rng(seed).permutation(len(labels))
    sizes = np.bincount(codes, minlength=len(labels))[order]
    target = max(1, round((1 - train_fraction) * len(setting)))
    n_out = min(int(np.searchsorted(np.cumsum(sizes), target)) + 1, len(labels) - 1)
    held_out = np.isin(codes, order[:n_out])
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) with round(fraction · n) held out: a member's validation points."""
    perm = np.random.default_rng(seed).permutation(n)
    n_out = min(max(1, round(fraction * n)), n - 1)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


#: The random-number scheme, recorded in every manifest: member k's replica, validation
#: split, initial weights and batch order all derive from (seed, k) alone (``member_streams``).
RNG_SCHEME = "per-member-v2"


def member_seeds(seed: int, members: int) -> list[int]:
    """Independent member seeds derived from one base seed (numpy SeedSequence.spawn: the k-th
    child depends on (seed, k) only)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(members)]


def member_streams(seeds: list[int], purpose: str) -> list[int]:
    """One seed per member for ``purpose`` ("weights", "batches"; "virtual points" of the run's seed alone): a
    child of the member's seed."""
    tag = {"weights": 1, "batches": 2, "virtual points": 3}[purpose]
    return [int(np.random.SeedSequence([s, tag]).generate_state(1)[0]) for s in seeds]


def replica(points: PointSet, tc: TrainConfig, rng: np.random.Generator) -> torch.Tensor:
    """One member's pseudo-data σ_i (1 + Δλ_d r_d) + Δσ_i r_i (float32 [N]); the data as
    measured without ``replicas``, the normalization draw r_d only with ``fluctuate_norm``."""
    if not tc.replicas:
        return points.sigma.cpu().clone()
    sigma = points.sigma.cpu().numpy().astype(np.float64)
    if tc.fluctuate_norm:
        shift = 1 + points.norm_unc.cpu().numpy() * rng.standard_normal(len(points.labels))
        sigma = sigma * shift[points.dataset.cpu().numpy()]
    sigma = sigma + points.error.cpu().numpy() * rng.standard_normal(len(sigma))
    return torch.as_tensor(sigma, dtype=torch.float32)


def member_data(points: PointSet, pool: np.ndarray, tc: TrainConfig,
                seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per member (by its seed): training rows [K, n_train] and validation rows [K, n_val]
    of the run's training points ``pool``, and its replica of σ [K, N]."""
    train_rows, val_rows, replicas = [], [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        tr, va = _holdout(len(pool), tc.val_fraction, int(rng.integers(2**31)))
        train_rows.append(pool[tr])
        val_rows.append(pool[va])
        replicas.append(replica(points, tc, rng))
    return torch.as_tensor(np.stack(train_rows)), torch.as_tensor(np.stack(val_rows)), torch.stack(replicas)


@dataclass
class EpochReport:
    epoch: int
    train_chi2: float  # mean over members of χ²/N on their training replicas
    val_chi2: float | None  # mean over members of validation χ²/N (when evaluated)
    improved: int  # members whose best validation improved at this evaluation


class Trainer:
    """Trains ``model`` on ``points[train_index]``; the test points never enter here.

    ``trainable``: parameter names to optimize (None: all). ``frozen_modules``: modules kept
    in eval mode during training (frozen batch-norm statistics, see transfer.py).
    """

    def __init__(self, model: EnsembleNet, points: PointSet, train_index: np.ndarray, config: Config,
                 *, trainable: set[str] | None = None, frozen_modules: list[torch.nn.Module] | None = None,
                 fresh: bool = True):
        self.model, self.points, self.config, self.fresh = model, points, config, fresh
        tc = config.train
        self.K, self.D = model.members, len(points.labels)
        self.seeds = member_seeds(tc.seed, tc.first_member + self.K)[tc.first_member:]
        device = self.device = points.sigma.device
        # per member: its training and validation points ([K, n]) and its replica of σ ([K, N])
        self.train_index, self.val_index, self.sigma_rep = (
            t.to(device) for t in member_data(points, np.asarray(train_index), tc, self.seeds))
        self.frozen_modules = frozen_modules or []
        names = dict(model.named_parameters())
        chosen = set(names) if trainable is None else trainable
        # a structured model's own parts: trained alone in the last epochs (a fine-tuned model has none)
        self.own_from = math.ceil(tc.epochs * (1 - OWN_SHARE)) if model.parts is not None else None
        for name, p in names.items():
            p.requires_grad_(name in chosen)
        # foreach, not fused: the fused kernel rounds an element's update by where it falls in the tensor, so
        # member k's update depended on the member count (docs/method.md, "Exact in floating point too")
        self.optimizer = torch.optim.Adam([names[n] for n in sorted(chosen)], lr=tc.lr,
                                          weight_decay=tc.weight_decay, foreach=True)
        self.generators = [torch.Generator().manual_seed(s) for s in member_streams(self.seeds, "batches")]
        # the structured model's virtual points (its smoothness prior): the same for every member, from the run's seed
        self.virtual = torch.Generator().manual_seed(member_streams([tc.seed], "virtual points")[0])
        self.lam = torch.ones(self.K, self.D, device=device)
        self.epoch = 0
        self.best_val = torch.full((self.K,), math.inf, device=device)
        self.best_epoch = torch.zeros(self.K, dtype=torch.long, device=device)
        self.best_lam = self.lam.clone()
        self.history: list[dict] = []
        if fresh:  # member k's weights from its seed; inputs and output bias from the run's training points
            model.initialize(member_streams(self.seeds, "weights"))
            train_all = torch.as_tensor(np.asarray(train_index), device=device)
            model.set_standardization(points.features[train_all])
            ratio = (points.sigma[train_all] / points.scale[train_all]).clamp_min(1e-8)
            model.set_output_bias(points.features[train_all], ratio)
        self.best_state = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():  # what the model takes of each point that no parameter changes, once (``model.prepare``)
            self.inputs = model.prepare(points.features)

    def _lr(self, epoch: int) -> float:
        """Linear warm-up, then the schedule; a run with own parts has one cosine per phase."""
        tc = self.config.train
        if epoch < tc.warmup_epochs:
            return tc.lr * (epoch + 1) / tc.warmup_epochs
        if tc.lr_schedule == "cosine":
            start, end = tc.warmup_epochs, tc.epochs
            if self.own_from is not None:
                start, end = (self.own_from, end) if epoch >= self.own_from else (start, self.own_from)
            t = (epoch - start) / max(1, end - start)
            return tc.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))
        return tc.lr

    def _set_mode(self, training: bool) -> None:
        self.model.train(training)
        for module in self.frozen_modules:
            module.eval()

    def fit(self, on_epoch: Callable[[EpochReport], None] | None = None,
            on_checkpoint: Callable[[Trainer], None] | None = None) -> None:
        """The training loop: every epoch, mini-batch steps that update all K members at once,
        then validation; checkpoints and early stopping; at the end, each member's best weights."""
        tc, stale = self.config.train, 0
        if self.epoch == 0 and not self.fresh:  # a parent's weights compete too (module docstring)
            self._validate()
        while self.epoch < tc.epochs:
            self._start_epoch()  # learning rate, loss phase, a shuffled order of points per member
            for step, idx in enumerate(self._batches()):  # [K, B]: one batch of its own training points per member
                loss = self._loss(idx, step)  # [K]: each member's loss on its batch
                self.optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()  # members share no weights: the sum keeps their gradients apart
                self.optimizer.step()
            report = self._end_epoch()  # λ_k, validation χ², best weights so far
            if on_epoch:
                on_epoch(report)
            if report.val_chi2 is not None:
                stale = 0 if report.improved else stale + 1
            if on_checkpoint and self.epoch % tc.checkpoint_every == 0:
                on_checkpoint(self)
            if tc.patience and stale >= tc.patience:
                break
        self.model.load_state_dict(self.best_state)
        self.lam = self.best_lam if tc.lambda_in_training else self.profile_final_lambda()

    # -- the steps of an epoch ------------------------------------------------------------
    def _start_epoch(self) -> None:
        tc = self.config.train
        self.own_phase = self.own_from is not None and self.epoch >= self.own_from
        if self.own_from is not None:  # the universal parts, then the own parts alone (structured.NucleusParts)
            for name, p in self.model.named_parameters():
                p.requires_grad_(name.startswith("parts.") == self.own_phase)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(self.epoch)
        self._set_mode(True)
        self.warming_up = self.epoch < tc.relative_warmup_epochs
        if self.epoch and self.epoch == tc.relative_warmup_epochs:
            # The χ² gradients are ~(σ/Δσ)² larger than the warm-up's: Adam's moment
            # estimates of the old loss would make huge steps, so the new phase starts fresh.
            self.optimizer.state.clear()
        self.tally = torch.zeros(3, self.K, self.D, device=self.device)  # Σfσ/Δ², Σf²/Δ², data χ²
        self.tally_points = 0

    def _batches(self):
        """[K, B] index tensors covering each member's shuffled training points (last partial batch dropped)."""
        n_train = self.train_index.shape[1]
        batch = min(self.config.train.batch_size, n_train)
        order = torch.stack([torch.randperm(n_train, generator=g) for g in self.generators]).to(self.device)
        shuffled = self.train_index.gather(1, order)
        for start in range(0, n_train - batch + 1, batch):
            yield shuffled[:, start : start + batch]

    def _loss(self, idx: torch.Tensor, step: int) -> torch.Tensor:
        """Each member's loss on its batch [K] (``loss.training_loss``; a structured model's priors: its own parts',
        and at every SMOOTHNESS_EVERY-th ``step`` of an epoch that many times its smoothness prior), and the
        epoch's tallies."""
        p, batch = self.points, idx.shape[1]
        sigma, error, data = self.sigma_rep.gather(1, idx), p.error[idx], p.dataset[idx]
        y, log_y = self.model.forward_with_log(self.inputs[idx])
        prediction, log_prediction = y * p.scale[idx], log_y + torch.log(p.scale[idx])
        phase = "warmup" if self.warming_up else self.config.train.loss
        share = batch / self.train_index.shape[1]
        loss = training_loss(phase, sigma, error, prediction, log_prediction, data, self.lam, p.norm_unc, share)
        loss = loss + share * self.model.prior_penalty() / batch  # the own parts' prior (structured model)
        if self.model.config.transverse_smoothness and not self.own_phase and step % SMOOTHNESS_EVERY == 0:
            self._set_mode(False)  # batch norm's statistics are the data's
            loss = loss + SMOOTHNESS_EVERY * share * self.model.smoothness_penalty(self.virtual) / batch
            self._set_mode(True)
        with torch.no_grad():
            fs, ff = lambda_sums(sigma, error, prediction, data, self.D)
            self.tally[0] += fs
            self.tally[1] += ff
            self.tally[2, :, 0] += 2 * data_chi2(sigma, error, prediction, self.lam.gather(1, data))
            self.tally_points += batch
        return loss

    def _end_epoch(self) -> EpochReport:
        tc = self.config.train
        if tc.lambda_in_training and not self.warming_up:
            self.lam = fix_common_scale(profile_lambda(self.tally[0], self.tally[1], self.points.norm_unc),
                                        self.points.norm_unc)
        self.epoch += 1
        report = EpochReport(self.epoch, float((self.tally[2, :, 0] / self.tally_points).mean()), None, 0)
        if self.epoch % tc.eval_every == 0 or self.epoch == tc.epochs:
            report.val_chi2, report.improved = self._validate()
        self.history.append({"epoch": self.epoch, "train_chi2": report.train_chi2, "val_chi2": report.val_chi2})
        return report

    @torch.no_grad()
    def _validate(self) -> tuple[float, int]:
        """Validation χ²/N per member (on its replica, with its λ), keeping the best weights."""
        self._set_mode(False)
        p = self.points
        prediction = self.model(self.inputs[self.val_index]) * p.scale[self.val_index]
        sigma = self.sigma_rep.gather(1, self.val_index)
        lam = self.lam.gather(1, p.dataset[self.val_index])
        val = 2 * data_chi2(sigma, p.error[self.val_index], prediction, lam) / self.val_index.shape[1]
        improved = val < self.best_val
        if improved.any():
            self.best_val = torch.where(improved, val, self.best_val)
            self.best_epoch[improved] = self.epoch
            self.best_lam[improved] = self.lam[improved]
            for name, tensor in self.model.state_dict().items():
                if self.model.is_stacked(name):
                    self.best_state[name][improved] = tensor[improved]
                else:
                    self.best_state[name] = tensor.clone()
        return float(val.mean()), int(improved.sum())

    @torch.no_grad()
    def profile_final_lambda(self) -> torch.Tensor:
        """λ_k [K, D] of each member's final weights on its own training replica (closed form)."""
        self._set_mode(False)
        p, idx = self.points, self.train_index
        prediction = self.model(self.inputs[idx]) * p.scale[idx]
        fs, ff = lambda_sums(self.sigma_rep.gather(1, idx), p.error[idx], prediction, p.dataset[idx], self.D)
        return profile_lambda(fs, ff, p.norm_unc)

    # -- checkpoint state (tensors only; written by enxs.artifacts) -----------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to resume: tensors and JSON-able metadata."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors |= {f"best.{k}": v for k, v in self.best_state.items()}
        opt = self.optimizer.state_dict()
        for i, s in opt["state"].items():
            for key, value in s.items():
                tensors[f"opt.{i}.{key}"] = torch.as_tensor(value)
        tensors |= {"lam": self.lam, "best_lam": self.best_lam, "best_val": self.best_val,
                    "best_epoch": self.best_epoch, "rng": torch.stack([g.get_state() for g in self.generators]),
                    "rng_virtual": self.virtual.get_state()}
        meta = {"epoch": self.epoch, "history": self.history, "opt_param_groups": opt["param_groups"]}
        return {k: v.contiguous() for k, v in tensors.items()}, meta

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.best_state = {k[5:]: v.clone() for k, v in tensors.items() if k.startswith("best.")}
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, i, name = key.split(".", 2)
                state.setdefault(int(i), {})[name] = value
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["opt_param_groups"]})
        self.best_state = {k: v.to(self.device) for k, v in self.best_state.items()}
        self.lam, self.best_lam = tensors["lam"].to(self.device), tensors["best_lam"].to(self.device)
        self.best_val, self.best_epoch = tensors["best_val"].to(self.device), tensors["best_epoch"].to(self.device)
        if tensors["rng"].dim() != 2:
            raise ModelFileError("this checkpoint comes from an earlier enxs whose members shared one random "
                                 "stream; start the run again (the scheme is now per member)")
        for generator, state in zip(self.generators, tensors["rng"], strict=True):
            generator.set_state(state.clone())  # a fresh tensor: set_state ignores a view's storage offset
        if "rng_virtual" in tensors:  # (checkpoints of earlier enxs lack it)
            self.virtual.set_state(tensors["rng_virtual"].clone())
        self.epoch, self.history = meta["epoch"], meta["history"]
