"""Side-by-side speed suite: video_flax against torchvision (see suite.py)."""
