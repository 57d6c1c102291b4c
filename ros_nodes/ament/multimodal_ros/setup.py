"""ament_python build of the ``multimodal_ros`` ROS 2 package (``colcon build`` in a workspace whose ``src/``
holds this folder, linked or copied; see docs/ros.md).

Folder, ROS package and Python package share one name, ``multimodal_ros``, as ament_python expects. The
Python package is a thin set of entry points: the nodes are the ``multimodal.ros_nodes`` modules of the
``multimodal`` library, installed with pip beside ROS (this build does not install it).
"""
from glob import glob

from setuptools import setup

PACKAGE = "multimodal_ros"
# executable -> function of multimodal_ros/__init__.py (each calls multimodal.ros_nodes.<module>:main)
EXECUTABLES = ["lidar_features", "camera_features", "audio_features", "replay", "record"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="multimodal developers",
    maintainer_email="dev@multimodal.invalid",
    description="ROS 2 feature nodes of multimodal",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{exe} = {PACKAGE}:{exe}" for exe in EXECUTABLES]},
)
