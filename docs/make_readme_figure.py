"""Regenerate the README's figure, ``docs/_static/kernel_to_rich.png``.

Runs the gallery example ``examples/plot_kernel_to_rich.py`` unchanged (with
matplotlib's non-interactive backend, so its ``plt.show()`` does nothing)
and saves the figure it draws. From the repository root::

    python docs/make_readme_figure.py

It takes a few seconds and needs matplotlib (the ``plot`` extra).
"""

import os
import runpy
from pathlib import Path

os.environ["MPLBACKEND"] = "Agg"
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plot_kernel_to_rich.py"
OUTPUT = ROOT / "docs" / "_static" / "kernel_to_rich.png"
# 10 x 7.5 inches at 80 dpi: 800 x 600 pixels, about 100 KB.
DPI = 80


def main():
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    plt.gcf().savefig(OUTPUT, dpi=DPI)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({OUTPUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
