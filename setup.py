"""Package layout: the repository's top-level folders install under the one import name ``multimodal``.

``sensors/`` -> ``multimodal.sensors``, ``models/`` -> ``multimodal.models``, ``ros_nodes/`` ->
``multimodal.ros_nodes`` (generic top-level names such as ``models`` and ``sensors`` belong to other
projects: a user's environment is not ours to fill). Everything else is in ``pyproject.toml``.
"""
from setuptools import find_packages, setup

# import name -> folder in this repository
ROOTS = {
    "multimodal": "multimodal",
    "multimodal.sensors": "sensors",
    "multimodal.models": "models",
    "multimodal.ros_nodes": "ros_nodes",
}
# Not part of the library: ros_nodes/ament/multimodal_ros, the ament_python package (entry points, launch,
# parameters) that colcon builds on a robot. It has no __init__.py, so find_packages does not descend into
# it; the patterns keep it out should one appear.
EXCLUDE = ("ament", "ament.*", "*multimodal_ros*")

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder, exclude=EXCLUDE)
                 if f"{name}.{sub}" not in ROOTS]

setup(packages=packages, package_dir=ROOTS)
