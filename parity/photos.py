"""Real photographs bundled with installed packages (no download), and re-encodings of them.

scikit-learn ships two 640x427 JPEGs (``china``, ``flower``), matplotlib a 512x600 one
(``grace_hopper``).
"""
import functools
import io
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from PIL import Image

PHOTOS = ("china", "flower", "grace_hopper")
EXIF_ORIENTATION = 0x0112


def photo_path(name: str) -> str:
    if name == "grace_hopper":
        import matplotlib
        return os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    import sklearn.datasets
    return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", f"{name}.jpg")


@functools.lru_cache(maxsize=None)
def photo(name: str) -> Image.Image:
    with Image.open(photo_path(name)) as img:
        return img.convert("RGB")


@dataclass(frozen=True)
class PhotoEncoding:
    """How a photo is re-encoded before the pipelines read it (always saved as ``*.jpg``)."""
    photo: str
    size: Optional[Tuple[int, int]] = None  # (width, height) before encoding; None: as shipped
    mode: str = "RGB"                       # RGB | L | CMYK (CMYK only as JPEG)
    fmt: str = "JPEG"                       # JPEG | PNG (PNG bytes under a .jpg name)
    quality: int = 90
    orientation: int = 1                    # EXIF orientation tag; the pipelines ignore it

    def encode(self) -> bytes:
        img = photo(self.photo)
        if self.size is not None:
            img = img.resize(self.size, Image.BILINEAR)
        img = img.convert(self.mode)
        exif = Image.Exif()
        if self.orientation != 1:
            exif[EXIF_ORIENTATION] = self.orientation
        buf = io.BytesIO()
        options = {"quality": self.quality} if self.fmt == "JPEG" else {}
        img.save(buf, self.fmt, exif=exif.tobytes(), **options)
        return buf.getvalue()

    def write(self, path: str) -> str:
        with open(path, "wb") as f:
            f.write(self.encode())
        return path


def decoded(encoding: PhotoEncoding) -> Image.Image:
    """The re-encoded photo as the official loader sees it: decoded, RGB, EXIF ignored."""
    with Image.open(io.BytesIO(encoding.encode())) as img:
        return img.convert("RGB")
