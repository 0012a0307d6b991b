"""A folder of images (kedro-datasets' ``PartitionedDataset``) that kedro-viz can preview."""

import base64
import io

from kedro.io import DatasetError
from kedro_datasets._typing import ImagePreview
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

PREVIEW_GAP = 4  # pixels of white between two previewed images


class PartitionedImageDataset(PartitionedDataset):
    """``PartitionedDataset`` of PIL images (``dataset: pillow.ImageDataset``), same arguments,
    plus :meth:`preview`: a few of its images side by side, for kedro-viz.

    Example::

        training_samples:
          type: img2img.datasets.PartitionedImageDataset
          path: data/08_reporting/training_samples
          dataset: {type: pillow.ImageDataset}
          filename_suffix: .png
          metadata:
            kedro-viz:
              preview_args: {count: 1, newest: true}   # the last partition (the latest epoch)
    """

    def preview(self, count: int = 4, newest: bool = False, min_height: int = 256) -> ImagePreview:
        """The first (``newest``: the last) ``count`` images in partition-name order, side by side
        as one base64 PNG; small images are enlarged (nearest pixel) to at least ``min_height``."""
        if not isinstance(count, int) or count < 1:
            raise DatasetError(f"{self._path}: preview count must be a positive integer: {count!r}")
        try:
            partitions = self.load()
        except DatasetError as exc:
            raise DatasetError(
                f"{self._path}: no images yet; run the pipeline that writes them"
            ) from exc
        names = sorted(partitions)
        chosen = names[-count:] if newest else names[:count]
        images = [self._image(name, partitions[name]()) for name in chosen]
        factor = enlargement(max(image.height for image in images), min_height)
        strip = side_by_side([enlarge(image, factor) for image in images])
        return ImagePreview(base64.b64encode(_png(strip)).decode("ascii"))

    def _image(self, name: str, loaded: object) -> Image.Image:
        if not isinstance(loaded, Image.Image):
            raise DatasetError(
                f"{self._path}/{name}: a {type(loaded).__name__}, not an image; "
                "use dataset: pillow.ImageDataset"
            )
        return loaded.convert("RGB")


def side_by_side(images: list[Image.Image]) -> Image.Image:
    """The images left to right on white, top-aligned, ``PREVIEW_GAP`` pixels apart."""
    width = sum(image.width for image in images) + PREVIEW_GAP * (len(images) - 1)
    strip = Image.new("RGB", (width, max(image.height for image in images)), "white")
    left = 0
    for image in images:
        strip.paste(image, (left, 0))
        left += image.width + PREVIEW_GAP
    return strip


def enlargement(height: int, min_height: int) -> int:
    """The smallest whole factor that makes ``height`` at least ``min_height`` (1 if it is)."""
    return max(1, -(-min_height // height))


def enlarge(image: Image.Image, factor: int) -> Image.Image:
    """``image`` scaled up ``factor`` times, each pixel a sharp square (nearest neighbour)."""
    if factor == 1:
        return image
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
