"""The documentation under ``docs/``: the site builds with ``mkdocs build --strict``, and
every page's commands and Python blocks run as shown.

Each page runs on its own, in page order, in a temporary directory with a fresh home, the
way ``tests/test_readme.py`` runs the README (its helpers say which lines of a
```` ```bash ```` block are commands). The directory links the repository's ``benchmarks/``,
so that a command can name ``benchmarks/students/...`` as it would from a checkout.

A command that names a Debian data set, an image template or a model / file made from one
needs that data (``tests/conftest.py``'s shared guard): outside CI it is left out when the
data is missing and the test then skips with the usual summary line, after running the
rest of the page; under CI a missing data set fails.

The commands of long studies, which the suite cannot run, are shown in ```` ```console ````
blocks (``$ `` before each command) after a line saying they are not run by the tests;
:data:`NOT_RUN` lists every one of them with the reason, and a test keeps the two equal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import Result, _missing, require_debian_data
from tests.test_readme import (
    ROOT,
    blocks,
    enter_fresh_home,
    run_commands,
    run_python_blocks,
    shell_commands,
)

DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"

#: The documented commands that no test runs, each with why (a reduced run of the same
#: study is in a ```bash block of the same page, and runs).
NOT_RUN = {
    "neuroplast continual compare stream.yaml --strategies naive,replay --set "
    "stream.source=split_fashion_mnist --set stream.train_per_class=2000 "
    '--set "seeds=[0,1,2]"': "split Fashion-MNIST table: about 2 minutes",
    "neuroplast continual compare benchmarks/continual/wordnet-task8.yaml "
    "--strategies naive,ewc": "WordNet task-IL table, 8 epochs a task: about 4 minutes",
    "neuroplast continual compare benchmarks/continual/wordnet-task8.yaml "
    "--strategies online_ewc,si": "WordNet task-IL table, 8 epochs a task: about 4 minutes",
    "neuroplast continual compare benchmarks/continual/wordnet-task.yaml "
    "--strategies naive,online_ewc,si": "WordNet task-IL table, 4 epochs a task: 10 minutes",
    "neuroplast continual compare benchmarks/continual/wordnet-task.yaml "
    "--strategies ewc": "WordNet task-IL table, per-task anchors: about 8 minutes",
    "neuroplast continual compare benchmarks/continual/wordnet-task.yaml "
    "--strategies ewc --set options.ewc.anchor=latest": "WordNet task-IL table: 5 minutes",
    "neuroplast continual reproduce split-mnist --seeds 3": "Table 4 of van de Ven & Tolias "
    "(2019), 3 seeds: 7 minutes",
    "for t in cnn lstm transformer hybrid; do neuroplast init --template text-$t -o $t.yaml "
    "&& neuroplast train $t.yaml --set train.epochs=3 "
    "&& neuroplast explain rt-$t --faithfulness --n 200; done": "text faithfulness table: "
    "four templates trained 3 epochs, 200 reviews each: about 10 minutes",
    "neuroplast init --template image-cnn -o fmnist-cnn.yaml && neuroplast train "
    "fmnist-cnn.yaml --set data.limit=20000 --set train.epochs=4 && neuroplast explain "
    "fmnist-cnn --faithfulness --n 200": "image faithfulness table: about 3 minutes",
    "export NEUROPLAST_DB_URL=postgresql+psycopg://neuroplast@db.internal/neuroplast": "two "
    "serve replicas on one PostgreSQL registry: needs a server of your own "
    "(tests/serving/test_replicas.py runs the same on a throw-away one)",
    "neuroplast serve rt-cnn --port 8001 &": "replica 1 (tests/serving/test_replicas.py)",
    "neuroplast serve rt-cnn --port 8002 &": "replica 2 (tests/serving/test_replicas.py)",
    "neuroplast models promote rt-cnn:2 --stage production   # both switch within a second": (
        "the promote both replicas follow (tests/serving/test_replicas.py)"
    ),
    "neuroplast train rt.yaml --devices 2 --set train.epochs=1 --set data.limit=300": "two "
    "processes (40 s); tests/training/test_ddp.py runs it against one process",
    "torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint node1:29500 "
    "-m neuroplast train cfg.yaml": "two machines of 4 processes each; test_ddp.py runs the "
    "same code with 2 processes on one machine",
    "sbatch train.sbatch": "needs a SLURM cluster",
}
#: The studies of the pages added with issues 16-20, by reason.
_STUDIES = {
    ("docs/vision.md: Fashion-MNIST trainings and analyses, minutes of CPU each"): [
        "neuroplast evaluate fm-cnn --errors errors.html",
        "neuroplast evaluate fm-cnn --robustness --robustness-samples 500",
        "neuroplast init --template image-cnn > cnn.yaml",
        "neuroplast train cnn.yaml --set name=fm-cnn --set train.epochs=2",
        (
            "neuroplast train cnn.yaml --set name=fm-cnn-aug --set train.epochs=2 "
            "--set data.augment=standard"
        ),
        (
            "neuroplast train vit.yaml --set name=fm-vit --set train.epochs=2 "
            "--set model.patch_size=7"
        ),
        "python benchmarks/bench_augment.py --repeats 3 --train-batches 4",
        "python benchmarks/vision/augment_study.py --home /tmp/np-vision --seed 0 --arm none",
        "python benchmarks/vision/augment_study.py --home /tmp/np-vision --seed 0 --arm standard",
        "python benchmarks/vision/augment_study.py --table",
    ],
    (
        "the 30-trial Rotten Tomatoes study (two 10-minute chunks) and bench_tune (about 3 minutes)"
    ): [
        "neuroplast init --template text-cnn -o rt.yaml",
        "neuroplast tune rt.yaml --trials 30 --timeout 30m",
        "neuroplast tune status rt-cnn",
        "neuroplast train rt.yaml --set data.limit=4000 --set name=rt-cnn-4k",
        (
            "neuroplast tune rt.yaml --set data.limit=4000 --set name=rt-cnn-4k --trials 30 "
            "--timeout 9m"
        ),
        "neuroplast tune status rt-cnn-4k",
        "python benchmarks/bench_tune.py",
        "python benchmarks/bench_tune.py --template --rows 4000 --epochs 2",
    ],
    ("the full-size Rotten Tomatoes study: 22 minutes on two workers, seeds 80 s each"): [
        "neuroplast train rt.yaml --set name=rt-cnn-full",
        "neuroplast tune rt.yaml --set name=rt-cnn-full --trials 30 --workers 2 --timeout 60m",
        "neuroplast tune status rt-cnn-full",
        "neuroplast evaluate rt-cnn-full:2",
        "neuroplast train rt.yaml --set name=rt-cnn-template-seeds --set train.seed=43",
        (
            "neuroplast train rt.yaml --set name=rt-cnn-tuned-seeds --set train.seed=43 "
            "--set train.optimizer.lr=0.0004130399570052625 "
            "--set train.optimizer.weight_decay=0.007608481233714793 "
            "--set model.dropout=0.15540315686127867 --set model.num_filters=64"
        ),
    ],
    ("Rotten Tomatoes architecture tables: 12 trainings each, 35 and 8 minutes"): [
        "neuroplast compare rt.yaml --architectures cnn,lstm,transformer,hybrid --seeds 3",
        (
            "neuroplast compare rt.yaml --set data.limit=2000 --architectures "
            "cnn,lstm,transformer,hybrid --seeds 3"
        ),
    ],
    ("Fashion-MNIST architecture table: 9 trainings, about 16 minutes"): [
        (
            "neuroplast compare fm.yaml --architectures image_mlp,image_cnn,efficientnet-lite0 "
            "--seeds 3"
        ),
    ],
    ("MiniLM fine-tuning and probes on full data sets: 3 to 60 CPU-minutes each"): [
        (
            "python benchmarks/bench_minilm.py train --mode full --epochs 2 --slices 4 --lr 6e-5 "
            "--epochs-per-job 1 --checkpoint-dir /tmp/enc_bench/ckpt-full2"
        ),
        (
            "python benchmarks/bench_minilm.py train --mode lora --epochs 3 --lr 1e-3 "
            "--lora-targets query,key,value,dense --epochs-per-job 1 --checkpoint-dir "
            "/tmp/enc_bench/ckpt-lora3"
        ),
        "python benchmarks/bench_minilm.py --dataset bbc_news --max-length 128 probe",
    ],
    ("issue 18's study (benchmarks/neuromorphic/): an encoder pass, then seconds to minutes"): [
        "python benchmarks/neuromorphic/study.py --stream fmnist --parts encode",
        "python benchmarks/neuromorphic/diagnose.py --stream fmnist --part validation",
        "python benchmarks/neuromorphic/diagnose.py --stream fmnist --part decompose",
        (
            "python benchmarks/neuromorphic/study.py --stream fmnist --parts "
            "compare,replay,abstain --seeds 0,1,2"
        ),
        "python benchmarks/neuromorphic/study.py --stream fmnist --parts fewshot --seeds 0",
        "python benchmarks/neuromorphic/study.py --table",
        "python benchmarks/neuromorphic/diagnose.py --stream fmnist --part stdp",
        "python benchmarks/neuromorphic/openset.py --stream fmnist --seeds 0,1,2",
        (
            "python benchmarks/neuromorphic/openset.py --table --plot "
            "docs/evidence/neuromorphic/risk-coverage.png"
        ),
    ],
    (
        "anomaly study on the full data (bench_anomaly: Shuttle and ECG about a minute, ten "
        "Fashion-MNIST autoencoders about 5 minutes)"
    ): [
        "python benchmarks/bench_anomaly.py --parts shuttle,ecg",
        "python benchmarks/bench_anomaly.py --parts fmnist --classes 0,1,2,3,4,5,6,7,8,9",
    ],
    ("forecasting study: 9 trainings with ETS/ARIMA per fold, about a minute"): [
        (
            "python benchmarks/bench_forecast.py --parts co2,sunspots,sunspots-tcn --seeds 0,1,2 "
            "--arima"
        ),
    ],
    (
        "fortunes study: a 47-minute GPT training, an 8-minute LSTM one, the benchmark that "
        "scores both, and a sample"
    ): [
        "neuroplast init --template textgen-gpt -o textgen-gpt.yaml",
        "neuroplast train textgen-gpt.yaml --set generation.max_minutes=47.3",
        "neuroplast init --template textgen-lstm -o textgen-lstm.yaml",
        (
            "neuroplast train textgen-lstm.yaml --set model.dropout=0.0 --set "
            "train.scheduler.pct_start=0.05 --set train.epochs=1 --set "
            "generation.epoch_windows=1323 --set generation.max_minutes=8"
        ),
        (
            "python benchmarks/bench_generate.py --models fortunes-gpt:2,fortunes-lstm:1 "
            "--parts quality,analysis,speed --repeats 5"
        ),
        (
            'neuroplast generate fortunes-gpt:2 --prompt "A friend" --max-tokens 80 '
            "--temperature 0.8 --top-k 40 --seed 1"
        ),
    ],
    (
        "docs/generative.md: the image-generation study, three chunks of up to 15 CPU-minutes "
        "(feature classifier, VAE, GAN, DDPM, their FID and grids, sampling time)"
    ): [
        "benchmarks/generative/study.sh /tmp/genimg-home vae",
        "benchmarks/generative/study.sh /tmp/genimg-home ddpm1",
        "benchmarks/generative/study.sh /tmp/genimg-home eval",
        "neuroplast evaluate fm-vae --home /tmp/genimg-home",
    ],
    (
        "task serving: needs the task models of the anomaly, forecasting, generation and "
        "neuromorphic pages; tests/serving/test_tasks.py and test_neuro.py send the same "
        "requests to tiny versions of each kind"
    ): [
        "neuroplast serve shuttle-ae co2-lstm fortunes-gpt neuro-fashion --port 8000 &",
        (
            "curl -s localhost:8000/v1/models/shuttle-ae/score -H 'content-type: "
            """application/json' -d '{"inputs": [[37, 0, 76, 0, 28, 18, 40, 48, 8], {"f1": 55, """
            '"f2": 0, "f3": 81, "f4": 0, "f5": -6, "f6": 11, "f7": 25, "f8": 88, "f9": 64}]}\''
        ),
        (
            "curl -s localhost:8000/v1/models/co2-lstm/forecast -H 'content-type: "
            """application/json' -d '{"horizon": 3}'"""
        ),
        (
            "curl -s localhost:8000/v1/models/fortunes-gpt/generate -H 'content-type: "
            """application/json' -d '{"prompt": "A friend", "max_tokens": 80, "temperature": """
            """0.8, "top_k": 40, "seed": 1}'"""
        ),
        (
            "curl -sN localhost:8000/v1/models/fortunes-gpt/generate -H 'content-type: "
            """application/json' -d '{"prompt": "A friend", "max_tokens": 80, "seed": 1, """
            """"stream": true}'"""
        ),
        "curl -s localhost:8000/v1/models/neuro-fashion/predict -F file=@shoe.png -F top_k=2",
    ],
}
NOT_RUN.update({command: why for why, commands in _STUDIES.items() for command in commands})
_NOT_RUN_NOTE = "not run by the tests"

#: A command that contains one of these words needs the Debian data set it maps to.
DEBIAN_WORDS = {
    "fashion_mnist": "fashion_mnist",  # split_fashion_mnist too
    "image-cnn": "fashion_mnist",
    "image-mlp": "fashion_mnist",
    "fmnist": "fashion_mnist",  # fmnist-cnn, fmnist-mlp.yaml: made from the image templates
    "wordnet": "wordnet_glosses",
    "fortunes": "fortunes",  # fortunes-gpt, fortunes-lstm
    "generation.": "fortunes",  # the generation page's train command: the textgen template
    "image-vae": "fashion_mnist",  # the image generators train on Fashion-MNIST only
    "image-gan": "fashion_mnist",
    "image-ddpm": "fashion_mnist",
    "fm-vae": "fashion_mnist",
    "vae.yaml": "fashion_mnist",
}


def require_data(name: str) -> None:
    """:func:`require_debian_data`, and Debian's fortunes (read as files by the generation
    task, not a built-in data set)."""
    if name != "fortunes":
        require_debian_data(name)
        return
    from neuroplast.tasks.generation.corpus import FORTUNES_DIR

    if not FORTUNES_DIR.is_dir():
        _missing("Debian data set fortunes", "package fortunes")


def nav_pages() -> list[Path]:
    """The pages of mkdocs.yml's nav, in order."""

    def walk(items: list[object]) -> list[str]:
        found: list[str] = []
        for item in items:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict):
                for value in item.values():
                    found += walk(value) if isinstance(value, list) else [str(value)]
        return found

    nav = yaml.safe_load(MKDOCS_YML.read_text())["nav"]
    return [DOCS / page for page in walk(nav)]


def _runnable(page: Path) -> bool:
    text = page.read_text()
    return bool(shell_commands(text) or blocks(text, "python"))


def needed_data(command: str) -> set[str]:
    """The Debian data sets ``command`` needs."""
    return {name for word, name in DEBIAN_WORDS.items() if word in command}


def _data_present(name: str) -> bool:
    """Whether the Debian data set is there: the shared guard skips (outside CI) or fails
    (under CI) when it is not; here a skip only leaves out the commands that need it."""
    try:
        require_data(name)
    except pytest.skip.Exception:
        return False
    return True


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    pages = nav_pages()
    assert [page for page in pages if not page.is_file()] == []
    on_disk = {page for page in DOCS.rglob("*.md")}
    assert on_disk - set(pages) == set(), "add these pages to mkdocs.yml's nav"


def fence_problems(text: str) -> list[str]:
    """Where the code fences of a Markdown text do not pair up: every block opens with a
    language (```` ```bash ````, ```` ```text ````...) and closes with a bare ```` ``` ````."""
    problems, opened = [], 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("```"):
            continue
        if not opened:
            opened = number
            if line == "```":
                problems.append(f"line {number}: a block opens without a language")
        else:
            if line != "```":
                problems.append(f"line {number}: {line!r} inside the block opened at {opened}")
            opened = 0
    if opened:
        problems.append(f"line {opened}: the block is never closed")
    return problems


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_code_fences_pair_up(page: Path) -> None:
    assert fence_problems(page.read_text()) == []


def test_the_fence_check_itself() -> None:
    assert fence_problems("```bash\nx\n```\n```text\ny\n```\n") == []
    assert fence_problems("```\nx\n```\n") == ["line 1: a block opens without a language"]
    assert fence_problems("```text\nx\n```bash\n") == [
        "line 3: '```bash' inside the block opened at 1"
    ]


def test_the_commands_not_run_are_the_listed_ones() -> None:
    shown: list[str] = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for match in re.finditer(r"^```console\n(.*?)^```", text, flags=re.S | re.M):
            before = text[: match.start()].rstrip().rsplit("\n\n", 1)[-1]
            assert _NOT_RUN_NOTE in before, f"{page.name}: say why this block is not run"
            for line in match.group(1).splitlines():
                if line.startswith("$ "):
                    shown.append(line[2:].strip())
    assert sorted(shown) == sorted(NOT_RUN), "keep NOT_RUN and the docs' console blocks equal"


def test_commands_that_need_debian_data_are_recognised() -> None:
    assert needed_data("neuroplast train fmnist-mlp.yaml --set train.epochs=1") == {"fashion_mnist"}
    assert needed_data("neuroplast continual compare benchmarks/continual/wordnet-task.yaml") == {
        "wordnet_glosses"
    }
    assert needed_data("neuroplast train cfg.yaml --set data.dataset=bbc_news") == set()
    assert needed_data("neuroplast generate fortunes-gpt --prompt A") == {"fortunes"}


def test_the_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link or anchor, a page outside the nav or an API
    reference that does not resolve fails the build."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, (
        f"mkdocs build --strict failed (it needs the `docs` extra: pip install -e '.[docs]'):"
        f"\n{done.stdout}\n{done.stderr}"
    )
    pages = list(site.rglob("*.html"))
    assert len(pages) >= len(nav_pages())
    assert "neuroplast.engine.Engine.train" in (site / "api" / "index.html").read_text()
    external = [p.name for p in pages if "fonts.googleapis.com" in p.read_text()]
    assert external == [], "theme.font must stay false: the site makes no external requests"


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", [p for p in nav_pages() if _runnable(p)], ids=lambda p: p.name.removesuffix(".md")
)
def test_docs_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    text = page.read_text()
    cwd = enter_fresh_home(tmp_path, monkeypatch)
    (cwd / "benchmarks").symlink_to(ROOT / "benchmarks")
    commands = shell_commands(text)
    needed = set().union(*map(needed_data, commands))
    missing = {name for name in sorted(needed) if not _data_present(name)}
    run_commands(commands, cwd, cli, skip=lambda c: bool(needed_data(c) & missing))
    if blocks(text, "python"):
        namespace = run_python_blocks(text, page)
        if "predictions" in namespace:
            assert len(namespace["predictions"]) == 10
    for name in sorted(missing):
        require_data(name)  # skips, counted in the end-of-run summary
