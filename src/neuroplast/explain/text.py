"""Token attributions for text models, computed in batches with Captum on the embedding layer.

Every gradient method runs on the output of the model's ``embedding`` layer: the token ids
stay fixed (so padding masks and packed lengths stay those of the real text) and a forward
hook swaps in the embeddings Captum perturbs. The baseline is the embedding of PAD (id 0).
A token's score sums its embedding dimensions (integrated gradients, input x gradient,
occlusion) or takes the gradient's L2 norm (saliency, which has no sign).

>>> explainer = TextExplainer(loaded)                               # doctest: +SKIP
>>> [e.top(3) for e in explainer.explain(["a gorgeous, witty film"], method="ig")]  # +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError, DataError
from neuroplast.explain._methods import ExplainMethod, get_method, list_methods
from neuroplast.explain._results import TokenExplanation
from neuroplast.inference import LoadedModel, Predictor
from neuroplast.models import logits_of

__all__ = ["TextExplainer", "resolve_target"]

logger = logging.getLogger(__name__)

#: Rows whose relative completeness delta exceeds this are integrated piecewise (``ig``).
IG_TOLERANCE = 0.05


def resolve_target(target: int | str | None, label_names: Sequence[str]) -> int | None:
    """A class index from an index or a label name; a clear error when it does not exist."""
    if target is None:
        return None
    names = list(label_names)
    listing = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if target not in names:
            raise DataError(f"target class {target!r} is not a label of this model ({listing})")
        return names.index(target)
    index = int(target)
    if not 0 <= index < len(names):
        raise DataError(
            f"target class {index} is out of range: this model has {len(names)} classes "
            f"({listing}); give an index from 0 to {len(names) - 1} or a label name"
        )
    return index


class _EmbeddingForward:
    """``f(embeddings, input_ids) -> logits``: runs the model with its embedding output replaced."""

    def __init__(self, model: nn.Module, embedding: nn.Module) -> None:
        self.model = model
        self.embedding = embedding

    def __call__(self, embedded: Tensor, input_ids: Tensor) -> Tensor:
        handle = self.embedding.register_forward_hook(lambda _m, _i, _o: embedded)
        try:
            return logits_of(self.model(input_ids))
        finally:
            handle.remove()


class TextExplainer:
    """Attributions for a loaded text model: one verb, :meth:`explain` (or :meth:`attribute`)."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 32,
        ig_steps: int = 50,
        ig_max_steps: int = 3200,
        device: torch.device | None = None,
    ) -> None:
        if loaded.meta.modality != "text":
            raise ConfigError(
                f"{loaded.meta.name or 'this model'} takes {loaded.meta.modality}s; token "
                "attributions need a text model (use --method gradcam for images)"
            )
        embedding = getattr(loaded.model, "embedding", None)
        if not isinstance(embedding, nn.Embedding):
            raise ConfigError(
                f"the {loaded.meta.architecture} architecture has no `embedding` layer to "
                "attribute to; explanations need a token embedding"
            )
        self.loaded = loaded
        self.architecture = loaded.meta.architecture
        self.device = device or torch.device("cpu")
        self.model = loaded.model.to(self.device).eval()
        self.embedding = embedding
        self.batch_size = batch_size
        self.ig_steps = ig_steps
        self.ig_max_steps = ig_max_steps
        self.predictor = Predictor(loaded, batch_size=256, device=self.device)
        self.label_names = list(loaded.meta.label_names)
        self.min_length = int(loaded.meta.preprocessing.get("min_length", 1))
        self.embedding_forward = _EmbeddingForward(self.model, embedding)

    # ---- inputs ------------------------------------------------------------------------
    @property
    def methods(self) -> tuple[str, ...]:
        """The registered text methods this model supports."""
        return tuple(m for m in list_methods("text") if get_method(m, "text").supports(self))

    def check_method(self, method: str) -> ExplainMethod:
        """The registered method ``method``, checked against this model."""
        spec = get_method(method, "text", known=self.methods)
        spec.check(self)
        return spec

    def tokenize(self, texts: Sequence[str]) -> tuple[list[list[str]], list[list[int]]]:
        """Tokens and ids of each text, with clear errors for empty or all-unknown texts."""
        if isinstance(texts, str):
            raise DataError("pass a list of texts, not a single string (wrap it in a list)")
        if not texts:
            raise DataError("nothing to explain: give at least one text")
        vocab = self.loaded.vocab
        if vocab is None:
            raise DataError(
                "this text model has no vocabulary (it was trained on token ids through the "
                "Python API), so it cannot read raw text; pass token ids instead"
            )
        max_length = int(self.loaded.meta.preprocessing.get("max_length", 512))
        all_tokens, all_ids = [], []
        for number, text in enumerate(texts, start=1):
            tokens = vocab.tokenize(str(text))[:max_length]
            if not tokens:
                raise DataError(
                    f"text {number} is empty (no words after tokenization); give each input "
                    "some words"
                )
            ids = [vocab.index(t) for t in tokens]
            if all(i == vocab.unk_index for i in ids):
                raise DataError(
                    f"text {number} ({str(text)[:40]!r}) has only words the model never saw "
                    "in training (all map to <unk>), so any explanation would be meaningless; "
                    "use words from the training data's language and domain"
                )
            all_tokens.append(tokens)
            all_ids.append(ids)
        return all_tokens, all_ids

    def predict_proba(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities ``[N, K]`` of tokenized texts."""
        return self.predictor.predict_proba_ids(ids)

    # ---- batching ----------------------------------------------------------------------
    def _batches(self, ids: Sequence[Sequence[int]]) -> list[tuple[list[int], Tensor]]:
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = []
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(self.min_length, max(len(ids[i]) for i in chunk))
            batch = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                batch[row, : len(ids[i])] = torch.as_tensor(list(ids[i]), dtype=torch.long)
            out.append((chunk, batch.to(self.device)))
        return out

    # ---- attribution -------------------------------------------------------------------
    def attribute(
        self, ids: Sequence[Sequence[int]], targets: Sequence[int], method: str
    ) -> tuple[list[np.ndarray], list[float | None], list[float | None]]:
        """Per-token scores of each tokenized text for its target class.

        Returns ``(scores, deltas, gaps)``: ``deltas`` and ``gaps`` (``f(x) - f(baseline)``)
        are integrated gradients' completeness terms, None for the other methods.
        """
        spec = self.check_method(method)
        if len(targets) != len(ids):
            raise DataError(f"got {len(targets)} targets for {len(ids)} inputs")
        scores: list[np.ndarray] = [np.empty(0)] * len(ids)
        deltas: list[float | None] = [None] * len(ids)
        gaps: list[float | None] = [None] * len(ids)
        for chunk, batch in self._batches(ids):
            target = torch.as_tensor([int(targets[i]) for i in chunk], device=self.device)
            out = spec.text(self, batch, target)
            for row, i in enumerate(chunk):
                scores[i] = out.scores[row, : len(ids[i])].detach().cpu().numpy().astype(np.float64)
                if out.deltas is not None and out.gaps is not None:
                    deltas[i], gaps[i] = float(out.deltas[row]), float(out.gaps[row])
        return scores, deltas, gaps

    def embed(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """The batch's embeddings (requiring grad) and PAD's, the methods' baseline."""
        with torch.no_grad():
            embedded = self.embedding(batch)
            pad = self.embedding(torch.zeros_like(batch))
        return embedded.requires_grad_(), pad

    # ---- the verb ----------------------------------------------------------------------
    def explain(
        self,
        texts: Sequence[str],
        *,
        method: str = "ig",
        target: int | str | None = None,
    ) -> list[TokenExplanation]:
        """Explain each text's predicted class (or ``target``) with ``method``."""
        self.check_method(method)
        fixed = resolve_target(target, self.label_names)
        tokens, ids = self.tokenize(texts)
        probs = self.predict_proba(ids)
        predicted = probs.argmax(axis=1)
        targets = [int(p) if fixed is None else fixed for p in predicted]
        scores, deltas, gaps = self.attribute(ids, targets, method)
        return [
            TokenExplanation(
                text=str(texts[i]),
                tokens=tokens[i],
                ids=ids[i],
                scores=scores[i],
                method=method,
                target=targets[i],
                target_label=self.label_names[targets[i]],
                probability=float(probs[i, targets[i]]),
                predicted_label=self.label_names[int(predicted[i])],
                delta=deltas[i],
                logit_gap=gaps[i],
            )
            for i in range(len(ids))
        ]
