"""Many processes, one result: work in chunks of the global image list, shared by processes.

A long command (``invgen reconstruct`` over many images, ``invgen bench``) cuts its images into
chunks of ``--batch-size`` in the order given (:func:`chunk_ranges`): the chunk boundaries
depend on the image list and the batch size only, never on how many processes run, and each
chunk's random streams are seeded per image, so a chunk computes the same numbers in any
process. The processes are a :class:`Team`: those ``torchrun`` started (``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment, a ``torch.distributed`` group: gloo,
or NCCL on CUDA), or one of ``N`` separate runs (``--shard I/N``: array jobs), or a lone
process. Each takes a deterministic share of the chunks (:meth:`Team.share`), skips the
chunks whose results are on disk, and writes each chunk's results atomically when it finishes
(:func:`run_share`); so a killed run started again with the same command computes only the
rest, and a failing chunk stops the run with one line naming the process and the images
(:class:`WorkFailed`). :meth:`Team.replicate` and :meth:`Team.mean` are what
``DistributedDataParallel`` training needs beside.
"""
from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

from invgen.app.arguments import UsageError
from invgen.app.device import resolve_device

Unit = TypeVar("Unit")
# A process that finished its share waits at the barrier for the slowest one: hours, on a data set.
BARRIER_TIMEOUT = timedelta(hours=24)


class WorkFailed(RuntimeError):
    """A chunk failed: the message names the process (rank) and the images."""


def chunk_ranges(n: int, size: int) -> list[range]:
    """The positions ``0 … n−1`` in chunks of ``size`` (the last one shorter)."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def parse_shard(shard: str) -> tuple[int, int]:
    """``(I, N)`` of ``--shard I/N`` (1 ≤ I ≤ N); ``ValueError`` naming ``--shard`` otherwise."""
    try:
        i, parts = (int(v) for v in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 2/4), got {shard!r}") from None
    if not 1 <= i <= parts:
        raise ValueError(f"--shard {shard}: need 1 ≤ I ≤ N")
    return i, parts


@dataclass(frozen=True)
class Team:
    """The processes of one run: this one's ``rank`` of ``world``, its ``local_rank`` on its
    machine, and whether they form a ``torch.distributed`` group (``joined``: under
    ``torchrun``) or are separate runs (``--shard``)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    joined: bool = False

    @property
    def lead(self) -> bool:
        """Rank 0: the process that writes what there is one of (merged results, checkpoints)."""
        return self.rank == 0

    @property
    def merges(self) -> bool:
        """Whether this process merges the results when its share is done: the lead, unless
        the run is one of several ``--shard`` runs (merged later with ``--merge``)."""
        return self.lead and (self.joined or self.world == 1)

    def share(self, units: Sequence[Unit]) -> list[Unit]:
        """This process's part of ``units``: contiguous, the parts differing by at most one unit
        (any number of units and processes; a process may get none)."""
        n = len(units)
        return list(units[self.rank * n // self.world : (self.rank + 1) * n // self.world])

    def device(self, name: str) -> torch.device:
        """``--device``: ``cuda`` is this process's GPU, ``cuda:LOCAL_RANK`` (with more processes
        than GPUs on a machine, they take turns: ``LOCAL_RANK`` modulo the GPUs); ``cpu`` as it is."""
        device = resolve_device(name)
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        return device

    def barrier(self) -> None:
        """Wait for every process of the group (nothing for separate runs)."""
        if self.joined:
            dist.barrier()

    def close(self) -> None:
        """Leave the group once every process has reached here: a process that tears the group
        down while another still talks to it can abort both (seen under load with gloo)."""
        if self.joined and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def replicate(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` wrapped in ``DistributedDataParallel`` in a group (its gradients averaged
        over the processes in ``backward``); ``module`` itself otherwise."""
        if not self.joined:
            return module
        device = next(module.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def average_sparse_grad(self, parameter: torch.Tensor) -> None:
        """Replace the sparse gradient of ``parameter`` (an embedding's rows, each process its
        own rows) by the average over the processes of all of them, as
        ``DistributedDataParallel`` does for dense gradients (and NCCL cannot for sparse)."""
        if not self.joined:
            return
        grad = parameter.grad.coalesce()
        indices = [torch.empty_like(grad.indices()) for _ in range(self.world)]
        values = [torch.empty_like(grad.values()) for _ in range(self.world)]
        dist.all_gather(indices, grad.indices())
        dist.all_gather(values, grad.values())
        parameter.grad = torch.sparse_coo_tensor(torch.cat(indices, 1), torch.cat(values) / self.world,
                                                 grad.shape).coalesce()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over the processes of the group (the same keys in each)."""
        if not self.joined or not values:
            return values
        total = torch.tensor(list(values.values()), dtype=torch.float64)
        dist.all_reduce(total)
        return dict(zip(values, (total / self.world).tolist()))


def join(shard: str | None = None, device: str = "cpu", gradients: bool = False) -> Team:
    """The :class:`Team` of this process: under ``torchrun`` (``WORLD_SIZE`` > 1 in the
    environment) it joins the group — gloo, which is all a barrier needs, or NCCL for
    ``gradients`` on ``cuda`` (training: one GPU per process); with ``shard`` ``"I/N"`` it
    is separate run ``I`` of ``N``; else alone. A bad ``--shard``, one given under
    ``torchrun``, or fewer GPUs than training processes is a :class:`UsageError`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if shard not in (None, "1/1"):
        try:
            i, parts = parse_shard(shard)
        except ValueError as err:
            raise UsageError(str(err)) from None
        if world > 1:
            raise UsageError(f"--shard {shard} splits the work between separate runs; under torchrun each of "
                             f"the {world} processes takes its share already (leave --shard out)")
        return Team(i - 1, parts)
    if world == 1:
        return Team()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    nccl = gradients and resolve_device(device).type == "cuda"
    if nccl and local_rank >= torch.cuda.device_count():
        raise UsageError(f"--device cuda: training needs a GPU per process, and local rank {local_rank} finds "
                         f"{torch.cuda.device_count()} GPU(s); start at most that many processes per machine")
    if not dist.is_initialized():
        if nccl:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if nccl else "gloo", timeout=BARRIER_TIMEOUT,
                                device_id=torch.device("cuda", local_rank) if nccl else None)
    return Team(rank, world, local_rank, joined=True)


def run_share(team: Team, units: Sequence[Unit], done: Callable[[Unit], bool], work: Callable[[Unit], None],
              describe: Callable[[Unit], str]) -> tuple[int, int]:
    """Run ``work`` on this process's share of ``units``, skipping those ``done`` (their
    results are on disk); ``work`` writes each unit's results when it finishes. Returns how
    many units were computed and skipped. A unit that raises stops the run with
    :class:`WorkFailed`, naming ``describe(unit)`` (the images) and, when several processes run,
    this one."""
    computed = skipped = 0
    for unit in team.share(units):
        if done(unit):
            skipped += 1
            continue
        try:
            work(unit)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as err:
            who = f"rank {team.rank} of {team.world} " if team.world > 1 else ""
            raise WorkFailed(f"{who}failed on {describe(unit)}: {type(err).__name__}: "
                             f"{(str(err).splitlines() or [''])[0]}") from err
        computed += 1
        # The solvers' per-image network copies (IAGAN's, DIP's) sit in reference cycles that
        # only the cyclic collector frees: without it the peak memory creeps up chunk by chunk.
        gc.collect()
    return computed, skipped
