#!/usr/bin/env bash
# Tokenization throughput on the English fortunes (Debian's `fortunes` package), Kiln's tokenizers
# beside torchtext's basic_english and Hugging Face `tokenizers`, in one run on the same text.
# Every tokenizer is timed per line (69k lines, 2.6 MB), returning a list of token strings per line;
# best of 3. Results: docs/benchmarks.md (Text).
#
#   scripts/bench-text.sh [build-dir]     (default build/; needs bin/kiln built with text/)
# Python side: a venv at .venv with `tokenizers` and torchtext (see docs/benchmarks.md for why
# torchtext 0.6.0 is the one that installs beside Debian's torch 1.13).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
KILN=$BUILD/bin/kiln
PY=${KILN_BENCH_PYTHON:-.venv/bin/python}
if [[ ! -x "$PY" ]]; then  # the Python side's venv, made once (docs/benchmarks.md, Text)
  dpkg -s python3-venv python3-torch >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-torch
  /usr/bin/python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q tokenizers
  .venv/bin/pip install -q --no-deps torchtext==0.6.0
  PY=.venv/bin/python
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
root=/usr/share/games/fortunes
find "$root" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' ! -name chinese ! -name song100 ! -name tang300 \
  | sort | xargs cat > "$WORK/en.txt"
echo "corpus: English fortunes, $(wc -c < "$WORK/en.txt") bytes, $(wc -l < "$WORK/en.txt") lines"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== Kiln (kiln tokenize --bench 3)"
for t in basic_english whitespace word word_punct char; do "$KILN" tokenize --tokenizer "$t" --bench 3 < "$WORK/en.txt"; done
"$KILN" tokenize --train-bpe "$WORK/bpe.json" --vocab-size 8000 < "$WORK/en.txt"
"$KILN" tokenize --tokenizer "bpe:$WORK/bpe.json" --bench 3 < "$WORK/en.txt"
echo "== Python ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
"$PY" - "$WORK/en.txt" <<'PYEOF'
import sys, time
text = open(sys.argv[1], encoding="utf-8").read()
lines = text.split("\n")
size = len(text.encode("utf-8"))
def bench(name, fn, repeat=3):
    best = 1e30
    for _ in range(repeat):
        t0 = time.perf_counter(); n = fn(); best = min(best, time.perf_counter() - t0)
    print(f"{name:34s} {size / best / 1e6:8.1f} MB/s  {n:10d} tokens")
try:
    import torchtext
    from torchtext.data.utils import get_tokenizer
    be = get_tokenizer("basic_english")
    bench(f"torchtext {torchtext.__version__} basic_english", lambda: sum(len(be(l)) for l in lines))
except Exception as e:
    print("torchtext: not available:", e)
import tokenizers
from tokenizers import pre_tokenizers, ByteLevelBPETokenizer
v = tokenizers.__version__
ws = pre_tokenizers.WhitespaceSplit()
bench(f"tokenizers {v} WhitespaceSplit", lambda: sum(len(ws.pre_tokenize_str(l)) for l in lines))
bert = pre_tokenizers.BertPreTokenizer()
bench(f"tokenizers {v} BertPreTokenizer", lambda: sum(len(bert.pre_tokenize_str(l)) for l in lines))
bpe = ByteLevelBPETokenizer()
t0 = time.perf_counter()
bpe.train_from_iterator(lines, vocab_size=8000, min_frequency=2, show_progress=False)
print(f"tokenizers {v} ByteLevelBPE trained (vocab {bpe.get_vocab_size()}) in {time.perf_counter() - t0:.2f} s")
bench(f"tokenizers {v} ByteLevelBPE encode", lambda: sum(len(bpe.encode(l).tokens) for l in lines))
bench(f"tokenizers {v} ByteLevelBPE batch", lambda: sum(len(e.tokens) for e in bpe.encode_batch(lines)))
# encode_batch alone (Rust, all cores), token strings not brought into Python
bench(f"tokenizers {v} ByteLevelBPE batch/ids", lambda: len(bpe.encode_batch(lines)))
PYEOF
