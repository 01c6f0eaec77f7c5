"""The fixed palette objects are drawn from: saturated colours a model names in one word.

The table and floor are grey and the arm is grey/white, so a colour in a task text ("the red cube")
names exactly one thing in the image. Tasks draw their colours from :data:`COLOURS` and nothing else.
"""

from __future__ import annotations

from typing import Final

#: Colour name -> RGB in [0, 1]; far apart in hue so a small model tells them apart at 160x120.
COLOURS: Final[dict[str, tuple[float, float, float]]] = {
    "red": (0.85, 0.08, 0.08),
    "green": (0.10, 0.70, 0.15),
    "blue": (0.10, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.05),
    "purple": (0.55, 0.15, 0.75),
    "orange": (1.00, 0.50, 0.00),
    "cyan": (0.00, 0.80, 0.85),
}
COLOUR_NAMES: Final[tuple[str, ...]] = tuple(COLOURS)

#: Greys of the scene itself (never a task object's colour).
TABLE_RGB: Final = (0.55, 0.55, 0.55)
FLOOR_RGB: Final = (0.32, 0.32, 0.34)
ARM_RGB: Final = (0.88, 0.88, 0.90)
ARM_DARK_RGB: Final = (0.62, 0.62, 0.65)
