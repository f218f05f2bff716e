"""TV-L1 optical flow in JAX, equal to OpenCV's DualTVL1OpticalFlow."""
from video_flax.flow.consecutive import consecutive_flows
from video_flax.flow.consecutive import default_batch_size
from video_flax.flow.tvl1 import flow_batch
from video_flax.flow.tvl1 import flow_pair
from video_flax.flow.tvl1 import rgb_to_gray
from video_flax.flow.tvl1 import TVL1Params
