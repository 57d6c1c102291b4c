"""What every feature node shares: parameters, a raw subscription feeding a newest-wins queue, a worker
thread that decodes, encodes and publishes, a processing-time topic, diagnostics and clean shutdown.

A modality is a subclass that says which message types it reads (:meth:`FeatureNode.input_msgtype`),
how to turn one serialized message into an input (:meth:`FeatureNode.decode`), how to run the encoder
on a batch of inputs (:meth:`FeatureNode.encode`) and what to publish (:meth:`FeatureNode.publish_outputs`).

Threads: the executor thread only copies the serialized message into the queue (microseconds), so DDS
never backs up; one worker thread does the heavy work. When the worker is slower than the input, the
queue drops the oldest message (counted as ``dropped``).
"""
from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np

from .latest_queue import LatestQueue
from .wire import FLOAT64_ARRAY, encode, types

try:  # rclpy comes from the `ros` extra (pip wheels) or a ROS 2 installation.
    import rclpy
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("the ROS 2 nodes need rclpy: pip install '<repository>[ros]' "
                      "(or source a ROS 2 installation)") from e

DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
TIMING_LABEL = "stage: decode_ms, encode_ms, publish_ms, total_ms, queued_ms"


class BadMessage(ValueError):
    """A message the node cannot use (wrong layout, truncated, empty ...); counted, logged, skipped."""


def message_class(msgtype: str) -> type:
    """The rclpy class of ``pkg/msg/Name`` (needs the package's Python bindings installed)."""
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as e:
        raise ImportError(f"message type {msgtype} is not installed: install the ROS package '{pkg}' "
                          f"(apt: ros-$ROS_DISTRO-{pkg.replace('_', '-')})") from e


def qos(reliability: str, depth: int) -> QoSProfile:
    """Keep-last QoS with ``best_effort`` (sensor data) or ``reliable`` delivery."""
    rel = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
    if reliability not in rel:
        raise ValueError(f"reliability must be 'best_effort' or 'reliable', got {reliability!r}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth), reliability=rel[reliability],
                      durability=DurabilityPolicy.VOLATILE)


@dataclass
class Incoming:
    """A serialized message as received: bytes, arrival time (``time.monotonic``), sequence number."""

    raw: bytes
    received: float
    index: int


@dataclass
class Stats:
    """Counters since start and timings (ms) since the last diagnostics message."""

    received: int = 0
    processed: int = 0
    bad: int = 0
    errors: int = 0
    points_dropped: int = 0
    last_problem: str = ""
    times: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ("decode", "encode", "publish",
                                                                                   "total")})


class FeatureNode(Node):
    """Base of the LiDAR, camera and audio feature nodes (see the module docstring).

    Parameters (ROS parameters, all settable from a YAML file with ``--ros-args --params-file``):
        encoder_path: folder of an exported encoder (``encoder.json`` + ``encoder.safetensors``).
        input_topic / output_topic: topics (defaults per modality).
        input_reliability / input_depth: QoS of the input; default sensor data (best effort, keep last 5).
        output_reliability / output_depth: QoS of the outputs; default reliable, keep last 5, so both
            reliable and best-effort subscribers connect (a best-effort subscriber gets best effort).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        queue_size: messages waiting for the worker; when full the oldest is dropped (newest wins).
        max_batch: messages encoded together when several are waiting.
        threads: torch CPU threads (0 = torch's default).
        timing_topic: processing times per message (default ``<output_topic>/timing``).
        diagnostics_period: seconds between ``/diagnostics`` messages.
        log_throttle: seconds between two log lines about bad messages.
    """

    modality: ClassVar[str] = ""
    default_input_topic: ClassVar[str] = ""
    default_output_topic: ClassVar[str] = ""

    def __init__(self, parameter_overrides: Optional[dict[str, Any]] = None, node_name: Optional[str] = None,
                 **kwargs: Any):
        node_name = node_name or f"{self.modality}_features"
        overrides = [Parameter(k, value=v) for k, v in (parameter_overrides or {}).items()]
        super().__init__(node_name, parameter_overrides=overrides, **kwargs)
        self._declare("encoder_path", "")
        self._declare("input_topic", self.default_input_topic)
        self._declare("output_topic", self.default_output_topic)
        self._declare("input_reliability", "best_effort")
        self._declare("input_depth", 5)
        self._declare("output_reliability", "reliable")
        self._declare("output_depth", 5)
        self._declare("device", "cpu")
        self._declare("queue_size", 2)
        self._declare("max_batch", 1)
        self._declare("threads", 0)
        self._declare("timing_topic", "")
        self._declare("diagnostics_period", 1.0)
        self._declare("log_throttle", 5.0)
        self.declare_modality_parameters()

        import torch

        if self.param("threads") > 0:
            torch.set_num_threads(self.param("threads"))
        self.device = torch.device(self.param("device"))
        path = self.param("encoder_path")
        if not path:
            raise ValueError(f"{node_name}: parameter encoder_path is empty: give the folder of an exported encoder")
        from multimodal.export import load_encoder

        self.encoder = load_encoder(path, map_location=self.device).eval()
        if getattr(self.encoder, "modality", self.modality) != self.modality:
            raise ValueError(f"{path}: encoder {type(self.encoder).__name__} reads {self.encoder.modality} data, "
                             f"not {self.modality}: serve it with the {self.encoder.modality} node")
        self.stats = Stats()
        self._lock = threading.Lock()
        self.queue: LatestQueue[Incoming] = LatestQueue(self.param("queue_size"))
        self.input_topic = self.resolve_topic_name(self.param("input_topic"))
        self.output_topic = self.resolve_topic_name(self.param("output_topic"))
        out_qos = qos(self.param("output_reliability"), self.param("output_depth"))
        self.setup_publishers(out_qos)
        timing = self.param("timing_topic") or f"{self.output_topic}/timing"
        self.timing_pub = self.create_publisher(message_class(FLOAT64_ARRAY), timing, out_qos)
        self.diag_pub = self.create_publisher(message_class(DIAGNOSTIC_ARRAY), "/diagnostics", 10)
        self.sub = self.create_subscription(message_class(self.input_msgtype()), self.input_topic, self._on_message,
                                            qos(self.param("input_reliability"), self.param("input_depth")), raw=True)
        self.diag_timer = self.create_timer(float(self.param("diagnostics_period")), self.publish_diagnostics)
        self._stop = threading.Event()
        self.worker = threading.Thread(target=self._work, name=f"{node_name}-worker", daemon=True)
        self.worker.start()
        self.get_logger().info(f"{type(self.encoder).__name__} from {path} on {self.device}: "
                               f"{self.input_topic} -> {self.output_topic}")

    # ------------------------------------------------------------------ to override
    def declare_modality_parameters(self) -> None:
        """Declare the subclass's own parameters."""

    def input_msgtype(self) -> str:
        raise NotImplementedError

    def setup_publishers(self, out_qos: QoSProfile) -> None:
        raise NotImplementedError

    def decode(self, raw: bytes, index: int) -> Any:
        """Serialized message -> one encoder input (None: nothing to encode yet); raises :class:`BadMessage`
        (or :class:`~multimodal.sensors.errors.BadRecordError`) when the message is unusable."""
        raise NotImplementedError

    def encode(self, inputs: list[Any]) -> list[Any]:
        """Encoder outputs for a batch of decoded inputs (same order)."""
        raise NotImplementedError

    def publish_outputs(self, item: Any, output: Any) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ plumbing
    def _declare(self, name: str, default: Any) -> None:
        self.declare_parameter(name, default)

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_message(self, raw: bytes) -> None:
        with self._lock:
            self.stats.received += 1
            index = self.stats.received - 1
        self.queue.put(Incoming(raw, time.monotonic(), index))

    def note_problem(self, kind: str, text: str) -> None:
        """Count a bad message (``kind='bad'``) or a failure (``'errors'``) and log it, throttled."""
        with self._lock:
            setattr(self.stats, kind, getattr(self.stats, kind) + 1)
            self.stats.last_problem = text
        self.get_logger().warning(f"{text} ({self.stats.bad} bad, {self.stats.errors} errors so far)",
                                  throttle_duration_sec=float(self.param("log_throttle")))

    def _work(self) -> None:
        import torch

        while not self._stop.is_set():
            batch = self.queue.get_many(int(self.param("max_batch")), timeout=0.2)
            if not batch:
                continue
            decoded, t0, m0 = [], time.perf_counter(), time.monotonic()
            for inc in batch:
                try:
                    item = self.decode(inc.raw, inc.index)
                    if item is not None:  # None: nothing to encode yet (e.g. an audio window filling up)
                        decoded.append((inc, item))
                except Exception as e:  # any bad input must leave the node serving
                    self.note_problem("bad", f"{self.input_topic} message {inc.index}: {e}")
            if not decoded:
                continue
            t1 = time.perf_counter()
            try:
                with torch.inference_mode():
                    outputs = self.encode([d for _, d in decoded])
            except Exception as e:
                self.note_problem("errors", f"{self.input_topic}: encoder failed on messages "
                                            f"{[inc.index for inc, _ in decoded]}: {e}")
                continue
            t2 = time.perf_counter()
            for (inc, item), out in zip(decoded, outputs):
                try:
                    self.publish_outputs(item, out)
                except Exception as e:
                    self.note_problem("errors", f"{self.output_topic}: publishing failed for message {inc.index}: {e}")
            t3 = time.perf_counter()
            n = len(decoded)
            ms = {"decode": (t1 - t0) * 1e3 / n, "encode": (t2 - t1) * 1e3 / n, "publish": (t3 - t2) * 1e3 / n}
            ms["total"] = sum(ms.values())
            with self._lock:
                self.stats.processed += n
                for k, v in ms.items():
                    self.stats.times[k].append(v)
            queued = (m0 - batch[0].received) * 1e3  # wait of the oldest message taken
            self._publish_timing([ms["decode"], ms["encode"], ms["publish"], ms["total"], queued])

    def _publish_timing(self, values: list[float]) -> None:
        T = types()
        dim = T["std_msgs/msg/MultiArrayDimension"](label=TIMING_LABEL, size=len(values), stride=len(values))
        msg = T[FLOAT64_ARRAY](layout=T["std_msgs/msg/MultiArrayLayout"](dim=[dim], data_offset=0),
                               data=np.asarray(values, dtype=np.float64))
        self.timing_pub.publish(encode(msg, FLOAT64_ARRAY))

    def diagnostics_values(self) -> dict[str, str]:
        """Key/values of the status message (counters, mean/max times since the last one)."""
        with self._lock:
            s = self.stats
            values = {"received": s.received, "processed": s.processed, "dropped": self.queue.dropped, "bad": s.bad,
                      "errors": s.errors, "points_dropped_nonfinite": s.points_dropped,
                      "queue": len(self.queue), "last_problem": s.last_problem or "none"}
            for k, v in s.times.items():
                if v:
                    values[f"{k}_ms_mean"] = f"{np.mean(v):.2f}"
                    values[f"{k}_ms_max"] = f"{np.max(v):.2f}"
                s.times[k] = []
        return {k: str(v) for k, v in values.items()}

    def publish_diagnostics(self) -> None:
        T = types()
        values = self.diagnostics_values()
        level, message = b"\x00", "ok"
        if int(values["errors"]) or int(values["bad"]) or int(values["dropped"]):
            level, message = b"\x01", (f"{values['bad']} bad, {values['errors']} errors, "
                                       f"{values['dropped']} dropped (newest wins)")
        status = T["diagnostic_msgs/msg/DiagnosticStatus"](
            level=level[0], name=f"{self.get_name()}: {self.modality} features", message=message,
            hardware_id=str(self.device),
            values=[T["diagnostic_msgs/msg/KeyValue"](key=k, value=v) for k, v in values.items()])
        from multimodal.sensors.ros_messages import make_header

        msg = T[DIAGNOSTIC_ARRAY](header=make_header(time.time_ns(), "", T), status=[status])
        self.diag_pub.publish(encode(msg, DIAGNOSTIC_ARRAY))

    def shutdown(self) -> None:
        """Stop the worker (it finishes the message in hand) and destroy the node."""
        self._stop.set()
        self.queue.close()
        self.worker.join(timeout=10.0)
        self.destroy_node()


def spin_nodes(nodes: list[FeatureNode]) -> int:
    """Spin until SIGINT/SIGTERM, then shut the nodes down cleanly; returns an exit code."""
    import signal

    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    executor = MultiThreadedExecutor(num_threads=max(2, len(nodes)))
    for n in nodes:
        executor.add_node(n)
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for n in nodes:
            n.shutdown()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0


def run_node(cls: type[FeatureNode], args: Optional[list[str]] = None) -> int:
    """Entry point of one node: ``rclpy.init`` with ROS arguments (``--ros-args -p k:=v --params-file f``)."""
    rclpy.init(args=args)
    try:
        node = cls()
    except Exception as e:
        print(f"{cls.__name__}: {e}", flush=True)
        rclpy.try_shutdown()
        return 2
    return spin_nodes([node])
