#!/usr/bin/env python3
"""A folder of real images for `collapse vae --data folder:PATH`, from data that ships inside a PyPI
package: scikit-learn's handwritten digits (1,797 scans, 8×8 pixels, 17 grey levels, from the UCI
optical-recognition set). Nothing is downloaded at run time and nothing is committed as data.

Writes OUT_DIR/digit-NNNN-L.png (grey, upscaled 4× to 32×32 with nearest-neighbour, so the kit's
loader sees the original pixels as blocks; L is the label, unused by the kit).

Needs scikit-learn and pillow (e.g. python3 -m venv /tmp/v && /tmp/v/bin/pip install scikit-learn pillow).
Usage: python3 scripts/real-image-folder.py [OUT_DIR]   (default data/real/digits, git-ignored)
"""
import os
import sys

try:
    from PIL import Image
    from sklearn.datasets import load_digits
except ImportError as e:
    sys.exit(f"{e}: this script needs scikit-learn and pillow (pip install scikit-learn pillow)")


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "data", "real", "digits")
    os.makedirs(out, exist_ok=True)
    digits = load_digits()
    for i, (img, label) in enumerate(zip(digits.images, digits.target)):
        # 0..16 ink levels → 255..0 grey: dark ink on white, as scanned.
        pixels = (255 - img * (255 / 16)).clip(0, 255).astype("uint8")
        Image.fromarray(pixels, mode="L").resize((32, 32), Image.NEAREST).convert("RGB").save(os.path.join(out, f"digit-{i:04d}-{label}.png"))
    print(f"{out}: {len(digits.images)} images")


if __name__ == "__main__":
    main()
