"""Phones -> visemes -> ARKit mouth weights, with coarticulation and loudness-scaled opening.

Coarticulation follows the dominance model of Cohen & Massaro (1993): every phone pulls the mouth towards its
viseme's shape with a dominance that is flat over the phone's core and decays exponentially outside it; the mouth
is the dominance-weighted mean of the shapes. Bilabials, labiodentals and silence dominate strongly (lips must
close / touch); rounded visemes reach far ahead (anticipatory rounding) and bilabials a little ahead.
As in their model, dominance is per articulator: a tongue consonant (t, n, k, s, ...) holds the jaw and the lip
corners near its own shape at its centre, but has less say over lip rounding, so the rounding of a nearby vowel
carries through it (the lips are already rounding during the k of "ku").
"""

from __future__ import annotations

import numpy as np

from talkavatar.audio.ipa import ipa_viseme
from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.prosody import Prosody, speech_activity
from talkavatar.audio.resample import box_resample
from talkavatar.motion.names import ARKIT_INDEX, ARKIT_NAMES

# ARPAbet phone -> viseme (Oculus-style names).
PHONE_VISEME: dict[str, str] = {
    **dict.fromkeys(["P", "B", "M"], "PP"), **dict.fromkeys(["F", "V"], "FF"), **dict.fromkeys(["TH", "DH"], "TH"),
    **dict.fromkeys(["T", "D"], "DD"), **dict.fromkeys(["N", "L"], "nn"), **dict.fromkeys(["K", "G", "NG", "HH"], "kk"),
    **dict.fromkeys(["CH", "JH", "SH", "ZH"], "CH"), **dict.fromkeys(["S", "Z"], "SS"),
    **dict.fromkeys(["R", "ER"], "RR"), **dict.fromkeys(["W", "UW", "UH"], "U"),
    **dict.fromkeys(["OW", "AO", "OY"], "O"),
    **dict.fromkeys(["AA", "AE", "AY", "AW"], "aa"), **dict.fromkeys(["AH", "EH"], "E"),
    **dict.fromkeys(["IY", "IH", "EY", "Y"], "I"),
}

# Viseme -> the six classes used to evaluate lip sync.
VISEME_CLASS: dict[str, str] = {
    "sil": "silence", "PP": "bilabial", "FF": "labiodental", "U": "rounded", "O": "rounded", "RR": "rounded",
    "aa": "open", "E": "open", "TH": "spread", "DD": "spread", "nn": "spread", "kk": "spread", "CH": "spread",
    "SS": "spread", "I": "spread",
}
CLASSES = ("silence", "bilabial", "labiodental", "rounded", "open", "spread")


def phone_viseme(phone: str) -> str:
    """Viseme of a phone: ARPAbet (upper case, stress digits ignored; the English path) or IPA (any language).

    Silence (``SIL``, ``""``) and noise fillers (``+NSN+``) map to ``sil``.
    """
    arpabet = phone.rstrip("012")
    if arpabet.isupper() or not arpabet or arpabet.startswith("+"):
        return PHONE_VISEME.get(arpabet, "sil")
    return ipa_viseme(phone)


def phone_class(phone: str) -> str:
    return VISEME_CLASS[phone_viseme(phone)]


def _shape(**weights: float) -> np.ndarray:
    v = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, w in weights.items():
        for suffix in ("", "Left", "Right"):
            if name + suffix in ARKIT_INDEX:
                v[ARKIT_INDEX[name + suffix]] = w
    return v


VISEME_SHAPES: dict[str, np.ndarray] = {
    "sil": _shape(),
    "PP": _shape(jawOpen=0.06, mouthClose=0.06, mouthPress=0.55, mouthRollLower=0.2, mouthRollUpper=0.15),
    "FF": _shape(jawOpen=0.1, mouthRollLower=0.6, mouthUpperUp=0.3, mouthShrugUpper=0.15),
    "TH": _shape(jawOpen=0.18, tongueOut=0.3, mouthStretch=0.1),
    "DD": _shape(jawOpen=0.2, mouthStretch=0.2, mouthLowerDown=0.1),
    "nn": _shape(jawOpen=0.16, mouthStretch=0.15),
    "kk": _shape(jawOpen=0.26, mouthStretch=0.12, mouthLowerDown=0.1),
    "CH": _shape(jawOpen=0.14, mouthFunnel=0.3, mouthShrugUpper=0.25, mouthUpperUp=0.2, mouthStretch=0.15),
    "SS": _shape(jawOpen=0.08, mouthStretch=0.35, mouthSmile=0.15),
    "RR": _shape(jawOpen=0.16, mouthPucker=0.4, mouthFunnel=0.3),
    "U": _shape(jawOpen=0.14, mouthPucker=0.75, mouthFunnel=0.3),
    "O": _shape(jawOpen=0.38, mouthFunnel=0.6, mouthPucker=0.25),
    "aa": _shape(jawOpen=0.62, mouthLowerDown=0.35, mouthUpperUp=0.12),
    "E": _shape(jawOpen=0.42, mouthStretch=0.3, mouthLowerDown=0.25),
    "I": _shape(jawOpen=0.2, mouthSmile=0.3, mouthStretch=0.4),
}
VISEMES = tuple(VISEME_SHAPES)

# Dominance: (magnitude, seconds of decay before the phone core, after it). Chosen for plausibility (lip closure
# and rounding anticipated by tens of milliseconds) and checked on the LibriVox clips (benchmarks/drive_audio_eval.py;
# those five clips are also the acceptance set, so treat the figures there as optimistic).
_DOMINANCE = {
    "sil": (3.0, 0.02, 0.02), "PP": (2.0, 0.035, 0.03), "FF": (2.0, 0.03, 0.03), "U": (1.0, 0.08, 0.05),
    "O": (1.0, 0.08, 0.05), "RR": (1.0, 0.08, 0.04), "aa": (1.75, 0.035, 0.035), "E": (1.75, 0.035, 0.035),
    "I": (1.75, 0.035, 0.035),
}
# Issue 25, chosen on the eSpeak NG dev sentences (11 languages, viseme classes at exact phone centres) and checked
# on LibriVox. Second pass: vowels 1.0 -> 1.3 (the jaw reaches a vowel's target; 87.1 -> 90.0 %). Fourth pass:
# per-articulator dominance: consonants 0.7 -> 1.2 over the jaw and lip corners (a t or s holds the jaw up at its
# centre) but a tongue consonant keeps 0.7 over rounding; vowels 1.3 -> 1.5, rounded vowels 1.3 -> 1.0 (they reach
# 80 ms ahead). Exact phones 89.1 -> 92.1 % (dev lip targets), test 90.6 -> 95.0 %; LibriVox 80.1 -> 82.0 % / 96.3 ->
# 96.3 %; the jaw's fastest step 0.33 per 10 ms (the smoothness test's limit is 0.35). Thirteenth session, chosen
# on real speech as well (a checked-label dev set of Fish Fillets lines, benchmarks/lip_labels.py --split dev) with
# the eSpeak dev sentences, the LibriVox clips and a lip-check proxy: Czech and Dutch 30 ms schwas and short e/ɛ
# between consonants were shown spread, and tongue consonants before a rounded vowel rounded, with exact phone
# times; a tongue consonant's rounding 0.7 -> 1.0 and vowels 1.5 -> 1.75 (dev, exact phones: real cs 94.1 -> 97.1,
# nl 85.4 -> 88.8 %, eSpeak 92.9 -> 95.2 %; with a transcript eSpeak 90.6 -> 92.3 %; without 73.0 -> 74.3 %; the
# proxy up on every set; vowels at 2.0 left a 30 ms b between two vowels open).
_CONSONANT_DOMINANCE = (1.2, 0.025, 0.025)
# A tongue consonant's say over lip rounding (the rounding channels below), instead of its own dominance.
TONGUE_CONSONANTS = ("TH", "DD", "nn", "kk", "SS")
TONGUE_ROUNDING_DOMINANCE = 1.0
CORE_FRACTION = 0.6      # the flat middle part of a phone's dominance
NEIGHBOURS = 3           # phones on each side that can influence a frame
SHARPNESS = 3.0          # blend weights are dominance ** SHARPNESS (1 = Cohen-Massaro's weighted mean; higher
                         # sharpens transitions so short vowels still reach their targets)

# Opening gain: +-1 per GAIN_DB of loudness around the speech's 90th percentile, clipped to [GAIN_FLOOR, GAIN_CEILING].
# Floor 0.65 -> 0.35 (issue 25, fourth pass): quiet stretches open less, as the envelope the lip check compares with
# does (its proxy on the 13 lip-check clips 0.764 -> 0.785, every clip up) for 0-0.7 points of viseme classes (eSpeak
# dev/test) and LibriVox 96.6 -> 96.3 % with a transcript, 82.4 -> 82.0 % without.
GAIN_DB, GAIN_FLOOR, GAIN_CEILING = 30.0, 0.35, 1.15
# Where there is no speech the lips rest together (mouthClose REST_CLOSE, faded in as speech activity falls), not
# in the avatar's neutral face: rendered, the neutral mouth shows a wider inner-lip gap (MediaPipe, 0.047-0.057 of
# the eye distance on five CPU-rendered lip-check clips) than a spread consonant (0.033-0.043), so every pause
# looked like an opening. Ninth session: mouthPress 0.3 (gap at rest 0.049 -> 0.045). Tenth session: mouthClose
# closes it (the lips meet without the jaw; 0.45 pushes them into a pout), and without the press a resting mouth
# still reads as silence, not a bilabial, to the benchmark's nearest-shape classes (every class figure unchanged).
# CPU lip check (benchmarks/RESULTS.md, tenth session), press 0.3 -> close 0.3: es 0.411 -> 0.486, real nl 0.453 ->
# 0.569 (r at lag 0). Rigs that read ARKit's mouthClose only with an open jaw may show the lips pressed at rest.
REST_CLOSE = 0.3
CLOSE_CHANNEL = ARKIT_INDEX["mouthClose"]
# The loudness gain scales the jaw (and tongue) always, and the lips' own opening (lower lip down, upper lip up) only
# for recognised phones. With aligned phones (a transcript) the phone is known, so a quiet open vowel keeps its lip
# shape and reads as a smaller open vowel, not as a spread consonant; a recognised phone is a guess, and there the
# loudness is a second opinion on how open the lips are. Sixteenth session, chosen on the real Dutch dev lines with
# the eSpeak dev sentences and LibriVox as guards (benchmarks/RESULTS.md): with a transcript real nl dev 90.5 ->
# 94.3 %, eSpeak dev 92.5 -> 92.8 %, LibriVox 96.8 -> 98.4 %; the same rule for recognised phones cost eSpeak and
# LibriVox without a transcript (74.3 -> 73.9 %, 82.1 -> 80.5 %), so they keep the gain on the lips.
OPENING_CHANNELS = [ARKIT_INDEX[n] for n in ("jawOpen", "tongueOut")]
LIP_OPENING_CHANNELS = [ARKIT_INDEX[n] for n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                                                 "mouthUpperUpRight")]
ROUNDING_CHANNELS = [ARKIT_INDEX[n] for n in ("mouthPucker", "mouthFunnel")]
MOUTH_CHANNELS = sorted({i for v in VISEME_SHAPES.values() for i in np.flatnonzero(v)})


def fill_gaps(segments: list[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Sorted, non-overlapping segments covering ``[0, duration]``; uncovered time becomes ``SIL``."""
    out: list[PhoneSegment] = []
    t = 0.0
    for seg in sorted(segments, key=lambda s: s.start):
        start, end = max(seg.start, t), min(seg.end, duration)
        if end <= start:
            continue
        if start > t + 1e-6:
            out.append(PhoneSegment("SIL", t, start))
        out.append(PhoneSegment(seg.phone, start, end))
        t = end
    if t < duration - 1e-6:
        out.append(PhoneSegment("SIL", t, duration))
    return out


def mouth_curves(segments: list[PhoneSegment], times: np.ndarray, block: int = 512) -> np.ndarray:
    """Coarticulated ARKit mouth weights ``[len(times), 52]`` for phone ``segments`` at sorted ``times`` (s).

    Works through ``times`` in blocks so that temporaries stay ``O(block)`` for long recordings.
    """
    n = len(times)
    out = np.zeros((n, len(ARKIT_NAMES)), np.float32)
    if n == 0 or not segments:
        return out
    for lo in range(0, n, block):
        out[lo:lo + block] = _mouth_block(segments, times[lo:lo + block])
    return out


def _mouth_block(segments: list[PhoneSegment], times: np.ndarray) -> np.ndarray:
    n = len(times)
    visemes = [phone_viseme(s.phone) for s in segments]
    shapes = np.stack([VISEME_SHAPES[v] for v in visemes])                 # [P, 52]
    dom = np.array([_DOMINANCE.get(v, _CONSONANT_DOMINANCE) for v in visemes])  # [P, 3]
    rounding = np.where([v in TONGUE_CONSONANTS for v in visemes], TONGUE_ROUNDING_DOMINANCE, dom[:, 0])  # [P]
    starts = np.array([s.start for s in segments])
    ends = np.array([s.end for s in segments])
    centres, half = 0.5 * (starts + ends), 0.5 * CORE_FRACTION * (ends - starts)
    # Silence holds the mouth closed up to 20 ms from its edges, however long it is.
    silent = np.array([v == "sil" for v in visemes])
    half[silent] = np.maximum(half[silent], (ends - starts)[silent] / 2 - 0.02)
    home = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segments) - 1)   # [T]
    idx = np.clip(home[:, None] + np.arange(-NEIGHBOURS, NEIGHBOURS + 1)[None, :], 0, len(segments) - 1)  # [T, K]
    offset = times[:, None] - centres[idx]                                 # + after the centre
    outside = np.maximum(np.abs(offset) - half[idx], 0.0)
    decay = np.where(offset < 0, dom[idx, 1], dom[idx, 2])
    reach = np.exp(-outside / decay)                                       # [T, K]
    # Repeated indices at the sequence ends would count twice: keep each phone once.
    dup = np.concatenate([np.zeros((n, 1), bool), idx[:, 1:] == idx[:, :-1]], axis=1)
    out = _blend(dom[idx, 0] * reach, dup, shapes[idx])
    out[:, ROUNDING_CHANNELS] = _blend(rounding[idx] * reach, dup, shapes[idx][:, :, ROUNDING_CHANNELS])
    return out.astype(np.float32)


def _blend(weight: np.ndarray, dup: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Dominance-weighted mean ``[T, C]`` of ``shapes [T, K, C]``, dominances ``weight [T, K]`` (``dup``: left out)."""
    weight = np.where(dup, 0.0, weight) ** SHARPNESS
    weight /= weight.sum(axis=1, keepdims=True) + 1e-12
    return np.einsum("tk,tkc->tc", weight, shapes)


def opening_gain(loudness_db: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Per-frame loudness gain ``[T]`` on the mouth's opening from ``loudness_db [T]``: louder speech opens wider
    (+-1 per :data:`GAIN_DB` around the 90th percentile over the frames where speech ``activity [T]`` > 0.5,
    clipped to [:data:`GAIN_FLOOR`, :data:`GAIN_CEILING`])."""
    if len(loudness_db) == 0:
        return np.zeros(0, np.float32)
    speech = activity > 0.5
    level = float(np.percentile(loudness_db[speech], 90)) if speech.any() else 0.0
    return np.clip(1.0 + (loudness_db - level) / GAIN_DB, GAIN_FLOOR, GAIN_CEILING).astype(np.float32)


def apply_opening_gain(mouth: np.ndarray, gain: np.ndarray, activity: np.ndarray, aligned: bool) -> np.ndarray:
    """``mouth [T, 52]`` with the opening channels scaled by loudness ``gain [T]`` times speech ``activity [T]``
    (no speech closes the mouth), and the lips' own opening by the same, or by the activity alone where the phones
    are ``aligned`` (known from a transcript); keeps ``mouthClose <= jawOpen``."""
    out = mouth.copy()
    out[:, OPENING_CHANNELS] *= (gain * activity)[:, None]
    out[:, LIP_OPENING_CHANNELS] *= (activity if aligned else gain * activity)[:, None]
    jaw, close = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
    out[:, close] = np.minimum(out[:, close], out[:, jaw])
    return out


def rest_lips(mouth: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """``mouth [T, 52]`` with mouthClose at least ``REST_CLOSE * (1 - activity [T])``: the lips together at rest."""
    out = mouth.copy()
    out[:, CLOSE_CHANNEL] = np.maximum(out[:, CLOSE_CHANNEL], REST_CLOSE * (1.0 - activity))
    return out


def classify_mouth(weights: np.ndarray) -> list[str]:
    """Evaluation helper: the viseme class whose shape is nearest to each row of ``weights [N, 52]``."""
    shapes = np.stack([VISEME_SHAPES[v] for v in VISEMES])[:, MOUTH_CHANNELS]
    d = ((weights[:, None, MOUTH_CHANNELS] - shapes[None]) ** 2).sum(-1)
    return [VISEME_CLASS[VISEMES[k]] for k in np.argmin(d, axis=1)]


def mouth_weights(segments: list[PhoneSegment], prosody: Prosody, seconds: float, fps: float,
                  aligned: bool = False) -> tuple[list[PhoneSegment], np.ndarray]:
    """The mouth of speech ``seconds`` long with phone ``segments`` and ``prosody``: the segments with gaps filled
    by silence (none at all where the audio has no speech), and ARKit weights ``[round(seconds * fps), 52]``
    (coarticulated on the prosody's frames, loudness-scaled, box-resampled to ``fps``); ``aligned``: the segments
    are a transcript's phones aligned to the audio, not recognised ones (:func:`apply_opening_gain`)."""
    activity = speech_activity(prosody)
    segments = fill_gaps(segments if activity.any() else [], seconds)   # no speech: a closed mouth
    fine_times = (np.arange(prosody.frames) + 0.5) / prosody.rate
    fine = apply_opening_gain(mouth_curves(segments, fine_times), opening_gain(prosody.loudness_db, activity),
                              activity, aligned)
    fine = rest_lips(fine, activity)
    times = np.arange(int(round(seconds * fps))) / fps
    return segments, box_resample(fine, prosody.rate, times, min(1.0 / fps, 0.034)).astype(np.float32)
