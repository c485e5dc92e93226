"""Infrastructure every model and chapter uses: data, device, one training loop, checkpoints,
argument checks and timing. Nothing here knows a model of the course.

The names a chapter needs at its top are re-exported here::

    from genmodels.core import budget_for, describe_device, pick_device, seed_everything
"""

from genmodels.core.device import budget_for, describe_device, pick_device, seed_everything

__all__ = ["budget_for", "describe_device", "pick_device", "seed_everything"]
