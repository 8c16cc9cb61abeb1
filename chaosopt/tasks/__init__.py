"""Tasks layer: objectives, datasets and flax models used by the experiments."""
