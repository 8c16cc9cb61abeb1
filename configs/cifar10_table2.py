"""P0 Table 2: ResNet-18 on CIFAR-10, full-batch GD with perturbations on the first conv only.

Full batch of 50000 training images as 100 micro-batches of 500 (gradient accumulation,
BatchNorm statistics per micro-batch), random crop (pad 4) + flip augmentation drawn fresh every
step, eta = 0.1 constant, no momentum, no weight decay, 1000 steps. Schemes: GD; Gaussian
(mu = 0.03, sigma = 0.01, noise scaled by eta**0.5 -- the paper does not state the exponent, see
docs/errata.md); MPGD eq. 8 with gamma in {0.55, 0.6, 0.65, 0.7}, beta = 0.5, mu = 0.03,
sigma = 0.01; the eq. 11 variant with the same gammas, mu, sigma. 5 seeds. Validation = the
official 10000-image test split. Evaluation (train and val accuracy/loss, gap) every
``chunk_size`` steps; an orbax checkpoint every ``checkpoint_every`` chunks. Compiled programs
are kept in ``<workdir>/xla_cache`` (the seeds of a scheme, run one after another, compile once;
a restarted run does not recompile).

``get_config("bf16")``: bfloat16 compute (float32 params and BatchNorm statistics).
``get_config("quick")``: 5000 training images, 20 steps, 1 seed (GPU smoke run).
"""
import ml_collections

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


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "cifar10_table2"
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
  c.seed_mode = "sequential"  # "vmap": all seeds (and gammas) of a scheme kind in one program
  c.mesh_data = 0            # devices on the mesh's data axis (0 = all / mesh_seeds)
  c.mesh_seeds = 1           # devices on the mesh's seeds axis (vmap mode)
  c.workdir = "runs/cifar10_table2"
  c.schemes = schemes()
  if arg == "bf16":
    c.model.dtype = "bfloat16"
  elif arg == "quick":
    c.task.train_size = 5000
    c.num_steps = 20
    c.chunk_size = 10
    c.num_seeds = 1
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '', 'bf16' or 'quick')")
  return c
