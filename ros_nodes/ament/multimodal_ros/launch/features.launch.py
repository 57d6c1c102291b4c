"""Launch the LiDAR and camera feature nodes (and optionally the audio node) with config/features.yaml.

    ros2 launch multimodal_ros features.launch.py lidar_encoder:=/path/enc_lidar camera_encoder:=/path/enc_cam \
        lidar_topic:=/LIDAR_TOP camera_topic:=/CAM_FRONT/image_raw [audio_encoder:=/path/enc_audio]

A node whose encoder argument is empty is not started.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("multimodal_ros"), "config", "features.yaml")
    args = [
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("lidar_encoder", default_value="", description="exported LiDAR encoder folder"),
        DeclareLaunchArgument("camera_encoder", default_value="", description="exported camera encoder folder"),
        DeclareLaunchArgument("audio_encoder", default_value="", description="exported audio encoder folder"),
        DeclareLaunchArgument("lidar_topic", default_value="/lidar/points", description="PointCloud2 input"),
        DeclareLaunchArgument("camera_topic", default_value="/camera/image_raw", description="Image input"),
        DeclareLaunchArgument("audio_topic", default_value="/audio/audio", description="AudioDataStamped input"),
    ]
    nodes = []
    for name, executable, topic in (("lidar", "lidar_features", "lidar_topic"),
                                    ("camera", "camera_features", "camera_topic"),
                                    ("audio", "audio_features", "audio_topic")):
        encoder = LaunchConfiguration(f"{name}_encoder")
        nodes.append(Node(
            package="multimodal_ros", executable=executable, name=f"{name}_features", output="screen",
            condition=IfCondition(PythonExpression(["'", encoder, "' != ''"])),
            parameters=[LaunchConfiguration("params_file"),
                        {"encoder_path": encoder, "input_topic": LaunchConfiguration(topic)}]))
    return LaunchDescription(args + nodes)
