"""Where runs train: one after another in this process (``LocalExecutor``, the default and needing
nothing extra), or on Ray workers (``RayExecutor``, the optional extra ``enxs[ray]``), where a study's
independent runs fan out and one ensemble's members train in chunks (``train_in_chunks``) that merge
into the model directory the in-process run writes: member k depends only on the seed and k
(``training.member_seeds``), and members share no weights, so a chunk of members trains as they
would among all the others.

Every run and chunk writes into the directory the user named (checkpoints too): on a cluster that
directory must be on a filesystem the workers share. A finished run or chunk is reused, an
interrupted one resumed; ``--address`` connects to a running Ray cluster (``ray start --head`` on
one node, ``ray start --address HEAD:6379`` on the others: docs/method.md), without it a local Ray
starts with ``--workers`` processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from enxs import artifacts
from enxs.config import Finetune
from enxs.errors import EnxsError
from enxs.files import check_output_directory, sha256, write_json
from enxs.network import EnsembleNet
from enxs.runs import RUN_FILE, RunError, RunSpec, execute, prepare, write_model
from enxs.training import RNG_SCHEME

INSTALL_HINT = "--executor ray needs Ray, an optional extra: pip install 'enxs[ray]'"
CHUNKS = "chunks"


class ExecutorError(EnxsError):
    """Ray missing, unreachable, or a run that failed on a worker (named)."""


@dataclass
class Job:
    """One run of a study's plan: what to train and a title for progress."""

    spec: RunSpec
    title: str


#: Configuration fields added after runs were recorded (``run_key``).
ADDED_LATER = {("model", "pauli_blocking"): False, ("model", "longitudinal_cut"): 3.0, ("train", "first_member"): 0,
               ("model", "inelastic_threshold"): 0.0, ("model", "longitudinal_basis"): "linear",
               ("model", "longitudinal_low_q"): 0.0, ("model", "two_body"): False,
               ("model", "transverse_smoothness"): 0.0}


def run_key(spec: RunSpec) -> str:
    """Stable hash of a run: its config, data file checksums and parent weights."""
    start = spec.config.start
    parent_sha = (artifacts.read_manifest(artifacts.resolve_model(start.parent)).weights_sha256
                  if isinstance(start, Finetune) else None)
    config = spec.config.to_dict()
    for (section, key), default in ADDED_LATER.items():  # at their defaults, they leave recorded runs' keys
        if config[section].get(key) == default:
            del config[section][key]
    blob = json.dumps({"kind": spec.kind, "config": config, "data": [sha256(f) for f in spec.data_files],
                       "norm": spec.norm_overrides, "parent": parent_sha}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


class LocalExecutor:
    """Trains the runs of a plan one after another in this process, each in
    ``root/<name>-<start>-<run_key>``: a finished run is reused, an interrupted one resumed.
    The runs of one ``run_all`` call are independent of each other."""

    def __init__(self, root: Path, on_run: Callable[[str, RunSpec], Callable | None] | None = None):
        self.root, self.on_run = Path(root), on_run

    def directory(self, spec: RunSpec) -> Path:
        return self.root / f"{spec.name}-{spec.config.start.kind}-{run_key(spec)}"

    def run_all(self, jobs: list[Job]) -> list[Path]:
        """The finished run directory of every job, in order."""
        out = []
        for job in jobs:
            directory = self.directory(job.spec)
            if not (directory / artifacts.MANIFEST).is_file():
                on_epoch = self.on_run(job.title, job.spec) if self.on_run else None
                execute(job.spec, directory, resume=(directory / RUN_FILE).is_file(), on_epoch=on_epoch)
            out.append(directory)
        return out


def ray_module():
    """The ``ray`` package, or a one-line error naming the extra."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return ray


@contextmanager
def ray_session(address: str | None, workers: int):
    """Ray, connected to ``address`` (a cluster; ``auto``: the one ``ray start`` left on this node) or
    started here with ``workers`` CPUs; shut down afterwards if started here."""
    ray = ray_module()
    if ray.is_initialized():
        yield ray
        return
    options = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
    try:
        ray.init(**options, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ExecutorError(f"Ray at {address or 'this machine'}: cannot start or connect ({exc})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _train(spec_json: dict, directory: str, threads: int) -> str:
    """A worker's task: run (or resume) one training into ``directory``."""
    torch.set_num_threads(threads)
    path = Path(directory)
    execute(RunSpec.from_json(spec_json), path, resume=(path / RUN_FILE).is_file())
    return directory


class RayExecutor(LocalExecutor):
    """The runs of a plan as Ray tasks, one CPU (or with ``device='cuda'`` one GPU) each, each in
    ``root/<name>-<start>-<run_key>`` like ``LocalExecutor``; ``on_event(title, event, seconds)`` with
    event ``submitted`` and ``finished`` (seconds since the first submission). A failed run is one line
    naming it; Ctrl-C cancels the rest (finished runs are kept)."""

    def __init__(self, root: Path, address: str | None = None, workers: int = 2,
                 on_event: Callable[[str, str, float], None] | None = None):
        super().__init__(root)
        self.address, self.workers, self.on_event = address, workers, on_event or (lambda *_: None)

    def run_all(self, jobs: list[Job]) -> list[Path]:
        directories = [self.directory(job.spec) for job in jobs]
        todo = [(job, d) for job, d in zip(jobs, directories, strict=True) if not (d / artifacts.MANIFEST).is_file()]
        if not todo:
            return directories
        self.root.mkdir(parents=True, exist_ok=True)
        with ray_session(self.address, self.workers) as ray:
            started, pending, task = time.perf_counter(), {}, ray.remote(_train)
            for job, directory in todo:
                options = {"num_cpus": 1, "num_gpus": 1 if job.spec.device.startswith("cuda") else 0, "max_retries": 0}
                pending[task.options(**options).remote(job.spec.to_json(), str(directory), 1)] = job.title
                self.on_event(job.title, "submitted", 0.0)
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    title = pending.pop(ready[0])
                    try:
                        ray.get(ready[0])
                    except ray.exceptions.RayError as exc:
                        cause = getattr(exc, "cause", None) or exc
                        raise ExecutorError(f"{title}: failed on a Ray worker: "
                                            f"{str(cause).strip().splitlines()[-1]}") from None
                    self.on_event(title, "finished", time.perf_counter() - started)
            finally:
                for ref in pending:
                    ray.cancel(ref, force=True)
        return directories


def chunk_ranges(members: int, workers: int) -> list[tuple[int, int]]:
    """(first member, count) of each chunk: ``workers`` chunks of near-equal size."""
    sizes = np.diff(np.linspace(0, members, min(workers, members) + 1).round().astype(int))
    return [(int(first), int(size)) for first, size in zip(np.cumsum(sizes) - sizes, sizes, strict=True)]


def train_in_chunks(spec: RunSpec, out: Path, address: str | None = None, workers: int = 2, *,
                    resume: bool = False, on_event: Callable[[str, str, float], None] | None = None):
    """Train ``spec``'s members in ``workers`` chunks on Ray (each chunk a run in ``out/chunks``), then
    merge them into the model directory ``out``; finished chunks are reused on resume."""
    tc = spec.config.train
    if tc.patience:
        raise ExecutorError("train.patience stops all members of a run together, so chunks would stop apart: "
                            "set train.patience=0 for --executor ray")
    if not resume:
        check_output_directory(out, "--out")
        out.mkdir(exist_ok=True)
        write_json(out / RUN_FILE, spec.to_json())
    jobs = [Job(replace(spec, config=replace(spec.config, train=replace(tc, members=count, first_member=first))),
                f"{spec.kind} {spec.name}, members {first}–{first + count - 1}")
            for first, count in chunk_ranges(tc.members, workers)]
    directories = RayExecutor(out / CHUNKS, address, workers, on_event).run_all(jobs)
    manifest = merge_chunks(spec, out, directories)
    shutil.rmtree(out / CHUNKS)
    return manifest


def merge_chunks(spec: RunSpec, out: Path, directories: list[Path]):
    """One model directory from the chunks' (in member order), evaluated on the run's split."""
    parts = [artifacts.load_model(d) for d in directories]
    model = EnsembleNet(spec.config.model, sum(m.members for m, _ in parts))
    states = [m.state_dict() for m, _ in parts]
    model.load_state_dict({name: torch.cat([s[name] for s in states]) if model.is_stacked(name) else tensor
                           for name, tensor in states[0].items()})
    records = [manifest.training for _, manifest in parts]
    training = {"rng_scheme": RNG_SCHEME, "executor": f"ray, {len(parts)} chunks",
                **{key: [v for r in records for v in r[key]] for key in
                   ("member_seeds", "best_epoch", "best_validation_chi2_per_point")},
                "epochs_run": max(r["epochs_run"] for r in records),
                "fit_seconds_last_invocation": round(sum(r["fit_seconds_last_invocation"] for r in records), 1)}
    environments = [r.get("environment") for r in records]  # one per chunk where the workers' machines differ
    training["environment"] = environments[0] if all(e == environments[0] for e in environments) else environments
    lam = np.concatenate([np.asarray(manifest.lam["per_member"]) for _, manifest in parts])
    start = spec.config.start
    parent = (artifacts.read_manifest(artifacts.resolve_model(start.parent)) if isinstance(start, Finetune)
              else None)
    run = prepare(spec)
    if parts[0][1].data != run.data:
        raise RunError(f"{out}: the chunks were trained on other data than the run's files hold now")
    return write_model(spec, out, run, model.eval(), lam, training, parent)
