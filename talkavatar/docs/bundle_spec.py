"""``man/talkavatar-bundle.5``: the avatar bundle and motion file formats, glTF-style.

Prose is written here; every table of fields, tensors and metadata, and every example, is generated from the
schemas and code that readers and writers use, so the document and the code cannot disagree.
"""

from __future__ import annotations

import json

from talkavatar.version import __version__
from talkavatar.bundle.schemas import json_schema, json_schema_names, tensor_schema, tensor_schema_names
from talkavatar.bundle.store import CONVENTIONS, FORMAT_VERSION, STAGES, check_manifest, new_manifest
from talkavatar.docs.roff import escape, literal, section, tagged
from talkavatar.errors import InvalidInput
from talkavatar.core.splats.ply import PROPERTIES as PLY_PROPERTIES

EXAMPLE_SHA = "0" * 63 + "1"


def valid_example() -> dict:
    """A small valid ``bundle.json``: a bundle whose ``source`` stage has run."""
    manifest = new_manifest()
    manifest["created"] = "2026-11-21T12:00:00+00:00"
    manifest["stages"]["source"] = {
        "generator": f"talkavatar {__version__}", "config": {},
        "inputs": {"/home/me/photo.jpg": EXAMPLE_SHA},
        "outputs": {"source/photo.jpg": {"sha256": EXAMPLE_SHA, "bytes": 48213}},
        "started": "2026-11-21T12:00:00+00:00", "seconds": 0.01, "timings": {}, "backend": "cpu",
    }
    return manifest


def invalid_examples() -> list[tuple[str, dict]]:
    """(what is wrong, document) pairs that readers MUST refuse."""
    missing = valid_example()
    del missing["stages"]
    newer = valid_example()
    newer["version"], newer["minVersion"] = "2.0.0", "2.0.0"
    bad_hash = valid_example()
    bad_hash["stages"]["source"]["outputs"]["source/photo.jpg"]["sha256"] = "not-a-hash"
    return [("a required field is missing", missing), ("a newer major version", newer),
            ("a malformed output hash", bad_hash)]


def refusal(doc: dict) -> str:
    """The one-line message a reader gives for ``doc`` (empty when it is valid)."""
    try:
        check_manifest(doc, "bundle.json")
    except InvalidInput as e:
        return e.message
    return ""


def _schema_fields(schema: dict, prefix: str = "") -> list[str]:
    out = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        kind = "MUST" if name in required else "MAY"
        desc = prop.get("description", "")
        if "const" in prop:
            desc = f"{desc} Value: {json.dumps(prop['const'])}.".strip()
        if "enum" in prop:
            desc = f"{desc} One of {', '.join(json.dumps(v) for v in prop['enum'])}.".strip()
        out.append(tagged(f"{prefix}{name}", f"({kind} be present) {desc}".strip()))
    return out


def _tensor_tables() -> list[str]:
    out = []
    for name in tensor_schema_names():
        spec = tensor_schema(name)
        out.append(f".SS {escape(name)} (version {spec.version})")
        out.append(escape(spec.description))
        for key, text in spec.metadata.items():
            out.append(tagged(f"__metadata__.{key}", f"(MUST be present) {text}"))
        for key, t in spec.tensors.items():
            shape = "[" + ", ".join(str(d) for d in t.shape) + "]"
            need = "MAY" if t.optional else "MUST"
            out.append(tagged(f"{key}  {t.dtype} {shape}", f"({need} be present) {t.description}"))
    return out


def build() -> str:
    """The whole page: what a bundle is, its manifest, the rules for writing and reading it, its files, examples."""
    bundle_schema = json_schema("talkavatar.bundle")
    p = _introduction()
    p += _schema_fields(bundle_schema)
    p += [".PP", escape(f"Each member of \"stages\" is named after a stage ({', '.join(STAGES)}) and holds:")]
    p += _schema_fields(bundle_schema["$defs"]["stage"], prefix="stages.NAME.")
    p += _rules()
    p += _tensor_tables()
    p += _motion_examples_and_ply()
    p += [section("see also"), "\\fBtalkavatar\\fR(1)"]
    return "\n".join(p) + "\n"


def _introduction() -> list[str]:
    """NAME to the start of the bundle.json section: conventions and layout."""
    conventions = "\n".join(f"{k}: {json.dumps(v)}" for k, v in CONVENTIONS.items())
    return [
        f'.TH TALKAVATAR\\-BUNDLE 5 "" "talkavatar {__version__}" "File Formats"',
        section("name"), escape("talkavatar-bundle - the talkavatar avatar bundle and motion file formats, "
                                f"version {FORMAT_VERSION}"),
        section("description"),
        escape("An avatar bundle is a directory (by default NAME.avatar/) that holds everything talkavatar knows "
               "about one person: the input, the body fit, the pseudo-labels and the learned avatar. Every command "
               "reads and writes it. The key words MUST, MUST NOT, SHOULD and MAY are to be read as in RFC 2119."),
        section("conventions"),
        escape("All geometry in a bundle and in motion files follows these conventions, recorded in bundle.json "
               "under \"conventions\"; readers MUST refuse other values:"),
        literal(conventions),
        escape("World: right-handed, +Y up, metres. Cameras: OpenCV (x right, y down, z forward); extrinsics are "
               "world-to-camera 4x4 matrices; intrinsics K in pixels with pixel centres at +0.5. Quaternions are "
               "stored w, x, y, z. Rotations are axis-angle (radians) unless a name says otherwise. Colours are "
               "linear 0..1 unless a name ends in srgb. Tensor names carry their activation and units "
               "(opacity_logit, log_scale): no value is stored pre-activated under a plain name."),
        section("layout"),
        literal("bundle.json   the manifest (below)\n"
                "source/       the input photo or video as given (input.EXT), the upright photo (image.png: a\n"
                "              video's first tracked frame), the clip given with a photo (video.EXT)\n"
                "track/        per-frame camera, body pose, hand pose, shape, expression; detections; person mask;\n"
                "              the personal rig; overlay.png; for a clip: video.json (its frames, times, rotation,\n"
                "              held-out tail), video/params.safetensors and video/masks/NNNNNN.png\n"
                "pseudo/       pseudo-label frames and masks with the exact poses, expressions and cameras\n"
                "              (frames/NNNNN.png, params.safetensors), the proxy's offsets (proxy.safetensors),\n"
                "              its completed UV texture (texture.png, sRGB) and contact.png (the photo, the\n"
                "              texture and the frames on one sheet)\n"
                "fit/          avatar.safetensors, the rig it is bound to (rig.safetensors), fit.json (with a\n"
                "              clip: the frames fitted to), preview.png (input view, yaw -30/+30, two new poses;\n"
                "              below, holes red and floaters blue)"),
        escape("Files are safetensors (tensors), JSON (documents) or PNG (images) and nothing else; readers MUST "
               "NOT unpickle anything. Names starting with a dot (.lock, .journal.json, .tmp-*, .trash-*) belong "
               "to the writing protocol below."),
        section("bundle.json"),
        escape("A JSON object with these members (JSON Schema: talkavatar.bundle):"),
    ]


def _rules() -> list[str]:
    """Versioning, the writing protocol, reading and staleness, and what every JSON and tensor file carries."""
    return [
        section("versioning"),
        escape(f"This document describes format version {FORMAT_VERSION}. \"version\" is the version the writer "
               "followed and \"minVersion\" the lowest version a reader must implement. A reader MUST refuse a bundle "
               "whose major version is greater than its own, or whose minVersion is greater than its own version "
               "(major.minor), with exit status 3. Readers MUST ignore members they do not know; writers MUST keep "
               "members they do not know when they rewrite bundle.json. Minor versions only add optional members."),
        section("writing"),
        escape("A stage holds an exclusive advisory lock (flock) on .lock while it runs; a second writer waits, "
               "then fails with a clear message. The stage writes its files into .tmp-STAGE-PID/. To commit it "
               "writes .journal.json (the new manifest), renames the old STAGE/ to .trash-STAGE-PID/, renames the "
               "temporary directory to STAGE/, replaces bundle.json atomically (write a temporary file, fsync, "
               "rename) and removes the journal. A reader that finds .journal.json takes the lock and finishes the "
               "commit (the new directory is in place) or rolls it back (it is not), so a bundle is always in its "
               "old or its new state, even if the writer was killed."),
        section("reading and staleness"),
        escape("Readers MUST validate bundle.json against its schema and every JSON document against its own; "
               "before reading a recorded output they MUST check its sha256 against stages.NAME.outputs. A stage "
               "is stale when any of its recorded inputs (a bundle-relative path, or an absolute path outside the "
               "bundle that still exists) no longer has the recorded sha256; commands that need a stale stage "
               "refuse with exit status 3 and say which stage to rerun."),
        section("json documents"),
        escape("Every JSON document in a bundle has a JSON Schema (draft 2020-12) shipped in the package under "
               "talkavatar/bundle/schemas/: " + ", ".join(json_schema_names()) + "."),
        section("tensor files"),
        escape("Every safetensors file carries __metadata__.schema (its schema name) and "
               "__metadata__.schema_version. Readers MUST refuse a file whose schema is not the expected one, whose "
               "schema_version is newer than they read, or whose tensors differ in name, dtype or shape. Letters in "
               "shapes are sizes that MUST agree across the file's tensors."),
    ]


def _motion_examples_and_ply() -> list[str]:
    p = [section("motion files"),
          escape("A motion file (*.motion.safetensors, schema talkavatar.motion above) is body-model agnostic: "
                 "local axis-angle rotations of the 55 SMPL-X joints, in SMPL-X order, relative to the SMPL-X rest "
                 "pose (T-pose), root translation, and the 52 ARKit blendshape weights in Live Link Face column "
                 "order. Each body model maps these onto itself. It MAY carry __metadata__.audio, a JSON object "
                 "{\"path\", \"sha256\", \"offset_seconds\"} naming the speech it was made from."),
          section("examples"), escape("A valid bundle.json (a bundle whose source stage has run):"),
          literal(json.dumps(valid_example(), indent=2))]
    for what, doc in invalid_examples():
        p += [escape(f"Invalid: {what}. Readers refuse it with:"), literal(refusal(doc))]
    p += [section("ply export"),
          escape("`talkavatar export --format ply -o FILE` (alias: `talkavatar render --export-ply FILE`) writes the "
                 "posed avatar as a 3D Gaussian Splatting PLY "
                 "(binary_little_endian 1.0, one vertex element of N Gaussians, float32 properties in this order: "
                 + " ".join(PLY_PROPERTIES) + "). x y z: centre in metres, bundle world frame; nx ny nz: 0; "
                 "f_dc_0..2: (sRGB colour - 0.5) / 0.28209479, SH degree 0 (no f_rest); opacity: logit "
                 "(opacity = sigmoid); scale_0..2: natural log of the standard deviations in metres; rot_0..3: unit "
                 "quaternion w x y z. This is the layout of the 3DGS reference implementation that common splat "
                 "viewers read; viewers that assume a -Y-up capture may show the avatar upside down.")]
    return p
