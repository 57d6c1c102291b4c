"""``multimodal serve ENCODER_DIR ...``: start the feature node(s) for exported encoders, no ROS workspace needed.

The node is chosen by the encoder's modality (``encoder.json`` -> the encoder class's ``modality``): LiDAR
encoders get :class:`~multimodal.ros_nodes.lidar_node.LidarFeatureNode`, camera encoders
:class:`~multimodal.ros_nodes.camera_node.CameraFeatureNode`, audio encoders :class:`~multimodal.ros_nodes.audio_node.AudioFeatureNode`.
Several encoders run as several nodes in one process. Parameters come from a ROS parameter YAML
(``--params-file``, keyed by node name as in ``ros_nodes/ament/multimodal_ros/config/features.yaml``) and ``-p name:=value``
overrides (applied to every node started).
"""
from __future__ import annotations

import argparse
from typing import Any, Optional, Sequence

NODES = {  # modality -> "module:Class"; a new node is one module plus one line here
    "lidar": "multimodal.ros_nodes.lidar_node:LidarFeatureNode",
    "camera": "multimodal.ros_nodes.camera_node:CameraFeatureNode",
    "audio": "multimodal.ros_nodes.audio_node:AudioFeatureNode",
}


def encoder_modality(path: str) -> str:
    """The modality of the exported encoder in folder ``path`` (raises with the file name if unknown)."""
    from multimodal.export import EncoderFormatError, read_encoder_config
    from multimodal.models.registry import encoder_class

    cfg = read_encoder_config(path)
    try:
        modality = getattr(encoder_class(cfg["encoder"]), "modality", "")
    except KeyError as e:
        raise EncoderFormatError(f"{path}/encoder.json: {e}") from e
    if modality not in NODES:
        raise EncoderFormatError(f"{path}/encoder.json: encoder {cfg['encoder']!r} has no feature node "
                                 f"(modality {modality!r}; nodes exist for {sorted(NODES)})")
    return modality


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["name:=value", ...]`` (ROS syntax; ``name=value`` also accepted) -> values typed by YAML rules, as
    ``ros2 run ... -p`` types them (``1`` int, ``1.0`` float, ``true`` bool, anything else a string)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition(":=") if ":=" in item else item.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter override {item!r}: expected name:=value")
        out[key] = yaml.safe_load(value) if value.strip() else ""
    return out


def serve(encoders: Sequence[str], params_file: Optional[str] = None, overrides: Optional[dict[str, Any]] = None,
          ros_args: Sequence[str] = ()) -> int:
    """Start one node per encoder folder and spin until SIGINT/SIGTERM."""
    import importlib

    import rclpy

    from .feature_node import spin_nodes

    modalities = [encoder_modality(e) for e in encoders]
    args = ["serve"]
    if params_file or ros_args:
        args += ["--ros-args", *(["--params-file", params_file] if params_file else []), *ros_args]
    rclpy.init(args=args)
    nodes = []
    try:
        for path, modality in zip(encoders, modalities):
            module, cls = NODES[modality].split(":")
            node_cls = getattr(importlib.import_module(module), cls)
            names = [n.get_name() for n in nodes]
            name = f"{modality}_features" + (f"_{names.count(modality + '_features') + 1}" if
                                              f"{modality}_features" in names else "")
            nodes.append(node_cls(parameter_overrides={**(overrides or {}), "encoder_path": str(path)}, node_name=name))
    except Exception:
        for n in nodes:
            n.shutdown()
        rclpy.try_shutdown()
        raise
    return spin_nodes(nodes)


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("encoders", nargs="+", metavar="ENCODER_DIR", help="exported encoder folder(s) (multimodal export)")
    p.add_argument("--params-file", metavar="YAML", help="ROS 2 parameter file (as ros_nodes/ament/multimodal_ros/config/features.yaml)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                   help="set a node parameter, e.g. -p output_mode:=point -p input_topic:=/LIDAR_TOP (repeat)")
    return p


def run_from_args(args: argparse.Namespace) -> int:
    return serve(args.encoders, params_file=args.params_file, overrides=parse_overrides(args.param))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``multimodal serve`` sub-command (registered through the ``multimodal.commands`` entry point)."""
    doc = __doc__ or ""
    return add_arguments(sub.add_parser("serve", help="serve exported encoders as ROS 2 feature nodes (needs the ros extra)", description=doc,
                                        formatter_class=argparse.RawDescriptionHelpFormatter))


run = run_from_args  # the command's entry (the CLI calls ``module.run(args)``)
