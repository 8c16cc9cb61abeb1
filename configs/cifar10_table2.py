"""The config of P0 (MPGD) Table 2: CIFAR-10 ResNet-18, full-batch GD (configs layer: what to run,
no computation; :mod:`chaosopt.experiments.cifar10_table2` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"bf16": "bfloat16 compute", "quick": "narrow ResNet, 256 images, 2 steps, GD + one MPGD (CPU smoke run)",
            "authors": "the MPGD authors' CIFAR-10 perturbation process (stem conv + stem BN, "
                       "additive only, scrambled tables; seeds 1..5)"}

GAMMAS = (0.55, 0.6, 0.65, 0.7)
MU, SIGMA, BETA = 0.03, 0.01, 0.5


def schemes(gammas=GAMMAS, mu=MU, sigma=SIGMA, beta=BETA) -> list:
  out = [{"name": "gd", "kind": "gd"},
         {"name": "gaussian", "kind": "gaussian", "mu": mu, "sigma": sigma, "exponent": 0.5}]
  out += [{"name": f"mpgd_{g}", "kind": "mpgd", "gamma": g, "beta": beta, "mu": mu,
           "sigma": sigma} for g in gammas]
  out += [{"name": f"eq11_{g}", "kind": "eq11", "gamma": g, "mu": mu, "sigma": sigma}
          for g in gammas]
  return out


def authors_schemes(gammas=GAMMAS, sigma=SIGMA) -> list:
  """The authors' CIFAR-10 process (variant ``authors``; the docstring of
  :mod:`chaosopt.experiments.cifar10_table2`): μ = 0 because their μ term is built from detached
  parameter norms and never moves the parameters."""
  tables = {"beta": BETA, "mu": 0.0, "sigma": sigma, "seed_base": 0, "seed_scale": 2}
  out = [{"name": "gd", "kind": "gd"},
         {"name": "gaussian", "kind": "gaussian", "mu": 0.0, "sigma": sigma, "exponent": 0.0}]
  out += [{"name": f"mpgd_{g}", "kind": "mpgd_authors", "gamma": g, **tables} for g in gammas]
  out += [{"name": f"eq11_{g}", "kind": "eq11_authors", "gamma": g, **tables} for g in gammas]
  return out


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.experiment = "cifar10_table2"
  c.task = ml_collections.ConfigDict({
      "name": "cifar10", "data_dir": "", "train_size": 0, "val_size": 0,  # 0 = all
      "microbatch_size": 500, "augment": True, "pad": 4})
  c.model = ml_collections.ConfigDict({"name": "resnet18", "width": 64, "dtype": "float32",
                                      "stage_sizes": (2, 2, 2, 2)})
  c.learning_rate = 0.1
  c.num_steps = 1000
  c.num_seeds = 5
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = 50          # evaluation interval (steps)
  c.checkpoint_every = 1     # in chunks
  c.per_step_metrics = False  # per-step training loss on the augmented batch is always kept
  c.only = ""                # comma-separated scheme names; empty = all
  c.seed_strategy = "sequential"  # "vmap": all seeds (and gammas) of a group in one program
  c.mesh_data = 0            # devices on the mesh's data axis (0 = all / mesh_seeds)
  c.mesh_seeds = 1           # devices on the mesh's seeds axis (vmap mode)
  c.headline = ("val_accuracy", "gap")
  c.schemes = schemes()
  return c


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = base_config()
  c.perturb = "first_conv"   # perturbed leaves: "first_conv" (paper) or "stem" (authors' code)
  if "authors" in variants:
    c.schemes = authors_schemes()
    c.perturb = "stem"
    c.first_seed = 1
  if "bf16" in variants:
    c.model.dtype = "bfloat16"
  if "quick" in variants:
    # a CPU-sized smoke run of the whole pipeline (not evidence): a narrow one-block-per-stage
    # ResNet on 256 images, 2 steps, GD and one MPGD scheme; the real data when present
    c.task.train_size, c.task.val_size, c.task.microbatch_size = 256, 256, 128
    c.model.width, c.model.stage_sizes = 4, (1, 1, 1, 1)
    c.num_steps, c.chunk_size, c.num_seeds = 2, 1, 1
    c.only = ",".join(s["name"] for s in c.schemes[:2])
    c.data = ml_collections.ConfigDict({"allow_synthetic": True})  # generated data if absent
  return c
