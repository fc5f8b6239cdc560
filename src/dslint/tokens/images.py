"""Token estimates for image parts.

``detail: "low"`` has a fixed price. For ``high`` and ``auto`` the price depends on the image's
size, which dslint does not fetch: it assumes the size named in ``rules/models.toml`` and says
so wherever an estimate is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ImagePrices:
    low: int
    estimated: int  # one high/auto image of the assumed size
    assumed_size: str  # "1024x1024"

    def tokens(self, details: str) -> tuple[int, int]:
        """(tokens, how many were estimated) for a comma-separated list of detail levels."""
        total = estimated = 0
        for detail in details.split(","):
            if detail == "low":
                total += self.low
            else:
                total += self.estimated
                estimated += 1
        return total, estimated


def tile_tokens(width: int, height: int, constants: Mapping[str, int]) -> int:
    """The tile rule: fit within max_side, shrink the short side to short_side, count tiles."""
    scale = min(1.0, constants["max_side"] / max(width, height))
    scale *= min(1.0, constants["short_side"] / (min(width, height) * scale))
    size = constants["tile_size"]
    tiles = math.ceil(width * scale / size) * math.ceil(height * scale / size)
    return constants["base"] + constants["tile"] * tiles


def prices(constants: Mapping[str, int]) -> ImagePrices:
    width, height = constants["assumed_width"], constants["assumed_height"]
    return ImagePrices(
        low=constants["low_detail"],
        estimated=tile_tokens(width, height, constants),
        assumed_size=f"{width}x{height}",
    )
