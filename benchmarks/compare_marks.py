"""Two hand markers' keypoints on the same photos, compared, and the fitted body scored against each.

Run:   python benchmarks/track_photos.py .photos --work W          (writes W/<photo stem>.avatar)
       python benchmarks/compare_marks.py W benchmarks/data/track_photos_marker2.json [--json OUT]

For every point both marks files have on a photo: the distance between the two marks in % of the person's height
(track_photos.py's definition: the height of the track mask in the photo's bundle), per point and per photo, with the
median / 90th percentile / max over all points and per body/face group; the points apart by more than ``--flag`` %.
Then the fitted body of each bundle scored (track_photos.score) against the first marks (track_photos.json) and
against the second file, on the points both have, so that the fit's figures can be read against the markers' spread.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from track_photos import MARKS, is_face, person_height, score  # noqa: E402


def distances(first: dict, second: dict, height: float) -> dict[str, float]:
    """{point name: |first - second| in % of ``height``} over the names both marks dicts ({name: [x, y]}) have."""
    return {n: float(np.linalg.norm(np.subtract(first[n], second[n])) / height * 100) for n in first if n in second}


def spread(values: list[float]) -> str:
    """'median / p90 / max (n)' of ``values`` (%), or '-' when empty."""
    if not values:
        return "-"
    return f"{np.median(values):.2f} / {np.percentile(values, 90):.2f} / {max(values):.2f} ({len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path, help="track_photos.py --work folder (the bundles)")
    parser.add_argument("second", type=Path, help="the second marks file (same photos/point names)")
    parser.add_argument("--flag", type=float, default=3.0, help="list the points apart by more than this %%")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    doc = json.loads(MARKS.read_text())
    second = json.loads(args.second.read_text())["photos"]
    rows, every, flagged = {}, [], []
    print("| photo | height px | points both | apart body % med / p90 / max | apart face % med / p90 / max "
          "| fit vs first: body / face % | fit vs second: body / face % | first only | second only |\n"
          + "|---" * 9 + "|")
    for name, info in second.items():
        first_points = doc["photos"][name]["points"]
        bundle = args.work / f"{Path(name).stem}.avatar"
        height = person_height(bundle)
        apart = distances(first_points, info["points"], height)
        common = {n: first_points[n] for n in apart}
        fit_first = score(bundle, common, doc)
        fit_second = score(bundle, {n: info["points"][n] for n in apart}, doc)
        body = [v for n, v in apart.items() if not is_face(n, doc)]
        face = [v for n, v in apart.items() if is_face(n, doc)]
        every += [(name, n, v, is_face(n, doc)) for n, v in apart.items()]
        flagged += [(name, n, v) for n, v in apart.items() if v > args.flag]
        only_first = sorted(set(first_points) - set(info["points"]))
        only_second = sorted(set(info["points"]) - set(first_points))
        rows[name] = {"height_px": height, "apart_pct": {n: round(v, 2) for n, v in apart.items()},
                      "fit_vs_first": fit_first, "fit_vs_second": fit_second,
                      "first_only": only_first, "second_only": only_second}
        print(f"| {name} | {height:.0f} | {len(apart)} | {spread(body)} | {spread(face)} "
              f"| {fit_first['body_pct']} / {fit_first['face_pct']} | {fit_second['body_pct']} / "
              f"{fit_second['face_pct']} | {', '.join(only_first) or '-'} | {', '.join(only_second) or '-'} |")
    print(f"\nall points: {spread([v for *_, v, _ in every])}; body: {spread([v for *_, v, f in every if not f])}; "
          f"face: {spread([v for *_, v, f in every if f])}  (median / p90 / max (n), % of height)")
    per_name: dict[str, list[float]] = {}
    for _, n, v, _ in every:
        per_name.setdefault(n, []).append(v)
    print("\n| point | median / p90 / max (n) |\n|---|---|")
    for n, values in sorted(per_name.items(), key=lambda item: -float(np.median(item[1]))):
        print(f"| {n} | {spread(values)} |")
    print(f"\napart by more than {args.flag} %:")
    for name, n, v in sorted(flagged, key=lambda item: -item[2]):
        print(f"  {name} {n} {v:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
