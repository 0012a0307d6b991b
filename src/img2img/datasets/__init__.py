"""Custom Kedro datasets where kedro-datasets has none that fits."""

from img2img.datasets.data_root import DataRootDataset
from img2img.datasets.tensor_cache import TensorCacheDataset

__all__ = ["DataRootDataset", "TensorCacheDataset"]
