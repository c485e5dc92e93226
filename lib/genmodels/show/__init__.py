"""What the book shows: figures, the latent-space explorers, and the library's own source.

    from genmodels.show import show_source
"""

from genmodels.show.source import show_source

__all__ = ["show_source"]
