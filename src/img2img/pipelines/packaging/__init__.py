from img2img.pipelines.packaging.pipeline import create_pipeline

__all__ = ["create_pipeline"]
