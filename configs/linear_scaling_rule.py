"""P3 (Li, Malladi & Arora 2021) Sec. 6 / Fig. 6: does G/N at equilibrium predict where the linear
scaling rule breaks? Small scale-invariant network (two hidden layers each followed by a
parameter-free LayerNorm, fixed random read-out) on FashionMNIST downsampled to 7x7, SGD + weight
decay with LR = lr_base · B / base_batch (LSR), a fixed number of epochs, then LR / 10.
C² = 2 and the "LSR fails if the final test error exceeds the best by > 20%" rule of App. E.2."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "linear_scaling_rule"
  c.num_train = 4000
  c.num_test = 2000
  c.data_seed = 0
  c.hidden = 64
  c.batch_sizes = (16, 32, 64, 128, 256, 512, 1024)
  c.base_batch = 32
  c.lr_base = 0.2  # LR at base_batch; LR(B) = lr_base * B / base_batch
  c.weight_decay = 5e-3
  c.epochs_phase1 = 40
  c.epochs_phase2 = 5  # after LR / 10
  c.measure_points = 5  # G, N averaged over this many points in the last 20% of phase 1
  c.num_seeds = 2
  c.c_squared = 2.0
  if arg == "quick":
    c.batch_sizes, c.epochs_phase1, c.epochs_phase2, c.num_train = (32, 128), 2, 1, 512
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
