"""Scratch: phone-token bigram counts per language from installed gettext catalogues read by eSpeak NG."""
import gettext, glob, re, subprocess, json, sys, collections
sys.path.insert(0, "/work/wt/lang18b")
from talkavatar.audio.ctc_align import transcript_tokens
from talkavatar.audio.universal import vocabulary
from talkavatar.audio.g2p import ipa_words
V = vocabulary()
SPLIT = {"r": ("r", "ɹ")}          # eSpeak phone token -> tokens hama writes it as (counts shared)
HEARD = {"nl": {"ʋ": "w"}}
MAXCHARS = int(sys.argv[2]) if len(sys.argv) > 2 else 300000

def lines(L):
    out, n, files = [], 0, []
    for f in sorted(glob.glob(f"/usr/share/locale/{L}/LC_MESSAGES/*.mo")):
        name = f.split('/')[-1]
        if name.startswith("iso_"):
            continue
        t = gettext.GNUTranslations(open(f, 'rb'))
        files.append(name)
        for k, v in t._catalog.items():
            if not k:
                continue
            v = re.sub(r"%[-#0-9.$]*[a-zA-Z]|\{[^}]*\}|<[^>]*>|https?://\S+|\S*[/\\=@]\S*|--?\w[\w-]*|[_&]", " ", v)
            for seg in re.split(r"[\n.!?:;()\[\]\"]+", v):
                words = re.findall(r"[^\W\d_]+", seg)
                if len(words) >= 2:
                    out.append(" ".join(words).lower()); n += len(out[-1])
    # deterministic subsample spread over the catalogues
    step = max(1, n // MAXCHARS)
    return out[::step], files

def counts(L):
    text, files = lines(L)
    run = subprocess.run(["espeak-ng", "-q", "--ipa", "--sep= ", "-v", L, "--stdin"],
                         input="\n".join(t + "." for t in text), capture_output=True, text=True)
    c = collections.Counter()
    nseq = 0
    for line in run.stdout.splitlines():
        words = [w.split() for w in re.split(r" {2,}", re.sub(r"\([a-z][a-z0-9-]*\)", " ", line)) if w.split()]
        if not words:
            continue
        _, toks, _ = transcript_tokens(words, L)
        seq = ["<s>"]
        for t in toks:
            tok = HEARD.get(L, {}).get(V[t], V[t])
            seq.append(tok)
        seq.append("</s>")
        nseq += 1
        for a, b in zip(seq[:-1], seq[1:]):
            for bb in SPLIT.get(b, (b,)):
                for aa in SPLIT.get(a, (a,)):
                    c[(aa, bb)] += 1.0 / (len(SPLIT.get(b, (b,))) * len(SPLIT.get(a, (a,))))
    return c, files, len(text), nseq

out = {}
for L in sys.argv[1].split(","):
    c, files, n, nseq = counts(L)
    out[L] = {"catalogues": files, "lines": n, "sequences": nseq,
              "counts": {f"{a} {b}": round(v, 2) for (a, b), v in sorted(c.items())}}
    print(L, n, nseq, len(c), file=sys.stderr)
json.dump(out, open("/tmp/lang18b/bigrams.json", "w"), ensure_ascii=False, indent=0)
