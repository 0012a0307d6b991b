"""Custom Kedro datasets where kedro-datasets has none that fits."""

from img2img.datasets.atomic_file import AtomicFileDataset
from img2img.datasets.csv_plot import CSVPlotDataset
from img2img.datasets.data_root import DataRootDataset
from img2img.datasets.json_table import JSONTableDataset
from img2img.datasets.partitioned_images import PartitionedImageDataset
from img2img.datasets.tensor_cache import TensorCacheDataset
from img2img.datasets.tolerant_mlflow import (
    TolerantMlflowArtifactDataset,
    TolerantMlflowMetricsHistoryDataset,
)
from img2img.datasets.torch_artifact import TorchArtifactDataset

__all__ = [
    "AtomicFileDataset",
    "CSVPlotDataset",
    "DataRootDataset",
    "JSONTableDataset",
    "PartitionedImageDataset",
    "TensorCacheDataset",
    "TolerantMlflowArtifactDataset",
    "TolerantMlflowMetricsHistoryDataset",
    "TorchArtifactDataset",
]
