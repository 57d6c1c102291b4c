"""ament_python build of the ROS 2 nodes (``colcon build`` in a workspace that contains this folder).

The Python package is ``ros_nodes`` (this folder); the ROS package is ``multimodal_ros``. The nodes import
the ``multimodal`` library (encoders, message conversions), which is installed with pip beside ROS.
"""
from glob import glob

from setuptools import setup

PACKAGE = "multimodal_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=["ros_nodes"],
    package_dir={"ros_nodes": "."},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="multimodal developers",
    description="ROS 2 feature nodes of multimodal",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "lidar_features = ros_nodes.lidar_node:main",
        "camera_features = ros_nodes.camera_node:main",
        "audio_features = ros_nodes.audio_node:main",
        "replay = ros_nodes.replay:main",
        "record = ros_nodes.record:main",
    ]},
)
