"""The synthetic motion dataset: clips whose class is defined only by motion.

  motions.py       the classes (how each moves) and the presets (VARIANTS)
  render.py        drawing clips and their exact optical flow, per split
  tfds_builder.py  writing a variant once to ArrayRecord with TFDS
  dataset.py       the registry entry: records -> training / test examples
"""
