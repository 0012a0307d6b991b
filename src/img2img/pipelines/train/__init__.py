from img2img.pipelines.train.pipeline import create_pipeline

__all__ = ["create_pipeline"]
