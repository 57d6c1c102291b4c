"""``multimodal make-world``: generate synthetic driving scenes and write them as nuScenes, ROS 2 bags and mp4 clips."""
from __future__ import annotations

import argparse
import sys
import time

HELP = "generate synthetic multi-sensor scenes (nuScenes, ROS 2 bag, mp4)"


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 400x225, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"image size {text} is too small (at least 16x16)")
    return w, h


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "make-world", help=HELP,
        description="Generate procedural street scenes (road, sidewalks, terrain, buildings, vegetation, poles, "
                    "parked and moving cars and trucks, pedestrians, cyclists) and record them with a 32-beam "
                    "LiDAR (20 Hz, per-point labels), six cameras in the nuScenes layout (12 Hz) and a roof "
                    "microphone. Writes OUT/nuscenes (a nuScenes dataset with lidarseg), OUT/bags/SCENE "
                    "(ROS 2 MCAP bags) and OUT/clips/SCENE/CAM.mp4 (H.264 + AAC). The same arguments write "
                    "the same bytes. See docs/synthetic_world.md.",
        epilog="examples:\n"
               "  multimodal make-world --out runs/world --scenes 2 --sweeps-per-scene 40 --seed 0\n"
               "  multimodal make-world --out runs/world --formats nuscenes --keyframe-every 1 --render\n"
               "  multimodal inspect runs/world/nuscenes --render frame.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (created; existing files are overwritten)")
    p.add_argument("--scenes", type=int, default=2, help="number of scenes (default 2)")
    p.add_argument("--sweeps-per-scene", type=int, default=40,
                   help="LiDAR sweeps per scene, 20 per second of driving (default 40)")
    p.add_argument("--seed", type=int, default=0, help="master seed; scenes differ from each other (default 0)")
    p.add_argument("--formats", default="nuscenes,bag,av",
                   help="comma-separated subset of nuscenes,bag,av (default: all three)")
    p.add_argument("--image-size", type=_size, default=(400, 225), metavar="WxH",
                   help="camera image size in pixels (default 400x225)")
    p.add_argument("--keyframe-every", type=int, default=10,
                   help="every n-th sweep is a nuScenes keyframe with lidarseg labels (default 10 = 2 Hz; "
                        "1 labels every sweep)")
    p.add_argument("--render", action="store_true",
                   help="also draw one frame of the first scene into OUT/render/*.png: cameras with projected "
                        "LiDAR points, bird's-eye view, class and depth ground truth, audio spectrogram")
    p.add_argument("--render-frame", type=int, default=0, help="which frame --render draws (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes generating scenes in parallel (default: one per scene, up to the CPU count)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from multimodal.sensors.synthetic.export import FORMATS, WorldSpec, write_world

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    try:
        spec = WorldSpec(scenes=args.scenes, sweeps_per_scene=args.sweeps_per_scene, seed=args.seed,
                         formats=formats, image_wh=args.image_size, keyframe_every=args.keyframe_every,
                         render_frame=args.render_frame if args.render else None)
    except ValueError as e:
        print(f"make-world: {e} (formats: {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    total = spec.scenes * spec.sweeps_per_scene
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="sweep", desc="make-world", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        manifest = write_world(args.out, spec, workers=args.workers, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    dt = time.perf_counter() - t0
    print(f"wrote {spec.scenes} scene(s) x {spec.sweeps_per_scene} sweeps ({', '.join(formats)}) to {args.out} "
          f"in {dt:.1f} s ({1000 * dt / total:.0f} ms per sweep)")
    for s in manifest["scenes"]:
        c = s["counts"]
        print(f"  {s['name']}: seed {s['seed']}, {c['points']} points, {c['images']} images, {c['objects']} objects "
              f"({c['moving_agents']} moving), ego {c['ego_speed_mps'][0]:.1f}-{c['ego_speed_mps'][1]:.1f} m/s, "
              f"classes {', '.join(c['classes'])}")
    if manifest["nuscenes"]:
        print(f"nuScenes: NuScenes(version={manifest['nuscenes']['version']!r}, dataroot='{args.out}/nuscenes')")
    pictures = [f for s in manifest["scenes"] for f in s["files"] if f.endswith(".png")]
    if pictures:
        print("pictures:\n" + "\n".join(f"  {args.out}/{p}" for p in pictures))
    return 0
