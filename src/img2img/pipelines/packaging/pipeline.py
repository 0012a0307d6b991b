"""packaging: generator -> torch.export program/ONNX (parity-checked), MLflow pyfunc model, registry, model card."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.packaging.nodes import export_generator, register_generator


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                export_generator,
                inputs=["generator", "params:packaging"],
                outputs=["generator_program", "generator_onnx", "export_parity"],
                name="export_generator",
            ),
            Node(
                register_generator,
                inputs=[
                    "generator",
                    "discriminator",
                    "generator_program",
                    "generator_onnx",
                    "metrics",
                    "metric_conventions",
                    "gate_comparison",
                    "export_parity",
                    "params:packaging",
                ],
                outputs=["model_card", "registry_decision"],
                name="register_generator",
            ),
        ]
    )
