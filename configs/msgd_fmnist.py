"""P4 (Wu et al. 2020) Fig. 1a: 1000 FashionMNIST *training* images, the small CNN (authors'
ConvSmall, :class:`chaosopt.tasks.models.SmallCNN`), plain gradient steps (optax.sgd, no momentum,
no weight decay), learning rate 0.01, SGD batch b = 50, raw 0..255 pixel inputs (as the authors'
code). Compared: GD, SGD, MSGD-Cov, MSGD-Fisher, MSGD-Bernoulli, MSGD-[Fisher-B] (B = 10, the
paper's value for FashionMNIST), every MSGD noise with the covariance scale of batch-b SGD.
The paper trains 10^4 iterations on a GPU; the CPU run here is shorter (``num_steps``) and
evaluates on a fixed random subset of the official test split (``num_test``)."""
import ml_collections

METHODS = ("gd", "sgd", "msgd_cov", "msgd_fisher", "msgd_bernoulli", "msgd_fisher_b")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "msgd_fmnist"
  c.num_train = 1000
  c.num_test = 2000  # random subset of the 10k test images (evaluation cost on CPU)
  c.data_seed = 0
  c.pixel_scale = 1.0  # inputs = uint8 value * pixel_scale (authors: raw 0..255)
  c.batch_size = 50  # b of SGD, and the covariance scale of every MSGD noise
  c.fisher_b = 10  # B of MSGD-[Fisher-B]
  c.learning_rate = 0.01
  c.num_steps = 1000
  c.eval_every = 50
  c.num_seeds = 3
  c.methods = METHODS
  c.chunk_size = 50
  # "vmap": one program batches the seeds (the default; right on accelerators). "unroll": the
  # step holds one copy of the network per seed -- on XLA:CPU a vmapped conv over per-seed
  # kernels becomes a grouped convolution, 1.6-1.7x slower than the unrolled copies (measured with
  # 3 seeds, 1000 images); on CPU the steps are also dispatched from the host, not scanned
  # (chaosopt.core.loop: XLA:CPU runs convolutions inside loop bodies several times slower).
  c.seed_axis = "vmap"
  if arg == "quick":
    c.num_steps, c.eval_every, c.chunk_size, c.num_test, c.num_seeds = 20, 10, 10, 200, 2
  elif arg == "cpu":  # the size that fits a shared 2-core CPU (see the report)
    c.num_steps, c.eval_every, c.chunk_size, c.num_test, c.seed_axis = 200, 20, 20, 1000, "unroll"
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '', 'quick' or 'cpu')")
  return c
