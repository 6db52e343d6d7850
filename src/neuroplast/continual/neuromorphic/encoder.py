"""The concept encoder: an input (texts, or images [n, c, h, w]) to a unit-norm concept
embedding. A registered backbone (:func:`register_encoder`; ``minilm``,
``efficientnet-lite0``, ``cnn``, ``hf:<dir>``) gives features, read through the registry's
embedding cache when the backbone is frozen; an optional linear projection head
(``projection_dim``) is trained with a supervised InfoNCE objective on labelled examples.
With ``freeze_backbone: false``, :meth:`ConceptEncoder.fit` trains the backbone with the
head."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.continual.neuromorphic._encoder_registry import (
    Backbone,
    EncoderContext,
    check_images,
    check_texts,
    create_backbone,
    list_encoders,
    register_encoder,
)
from neuroplast.continual.neuromorphic.config import ConceptEncoderConfig
from neuroplast.errors import ArtifactError, ConfigError, DataError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["Backbone", "ConceptEncoder", "info_nce", "list_encoders", "register_encoder"]

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 1
_CACHE_DTYPE: Literal["float32"] = "float32"


def info_nce(z: Tensor, labels: Tensor, temperature: float) -> Tensor:
    """Supervised InfoNCE: for each anchor, the mean over its positives (other rows of its
    label) of ``-log softmax`` of cosine / ``temperature`` against every other row. Anchors
    with no positive in the batch are left out."""
    z = F.normalize(z, dim=1)
    n = len(z)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    anchors = positive.any(dim=1)
    if not anchors.any():
        raise DataError("InfoNCE needs at least two examples of one class in a batch")
    per_anchor = -log_prob.masked_fill(~positive, 0.0).sum(dim=1) / positive.sum(dim=1).clamp(min=1)
    return per_anchor[anchors].mean()


def _subset(inputs: Any, rows: list[int]) -> Any:
    if isinstance(inputs, Tensor):
        return inputs[rows]
    return [inputs[i] for i in rows]


class ConceptEncoder:
    """``encode(inputs) -> Tensor[n, dim]`` of unit norm, configured by ``cfg``;
    ``registry`` serves the embedding cache and ``cnn`` refs (default: ``$NEUROPLAST_HOME``,
    opened on first use)."""

    def __init__(self, cfg: ConceptEncoderConfig, *, registry: Registry | None = None) -> None:
        self.cfg = cfg
        self._context = EncoderContext(registry)
        self._backbone: Backbone | None = None
        self.head: nn.Linear | None = None
        self.projection_fitted = False
        self.backbone_trained = False
        self.identity: str | None = None  # the backbone's weights, once used
        self._pending_backbone: dict[str, Tensor] = {}

    @property
    def backbone(self) -> Backbone:
        if self._backbone is None:
            self._backbone = create_backbone(self.cfg, self._context)
        return self._backbone

    @property
    def modality(self) -> str:
        return self.backbone.modality

    @property
    def dim(self) -> int:
        return self.cfg.projection_dim or self.backbone.dim

    # ---- features ----
    def _ready(self, inputs: Any) -> Backbone:
        """The backbone built for ``inputs``, its saved state applied and identity checked."""
        backbone = self.backbone
        if backbone.modality == "text":
            check_texts(inputs, backbone.name)
        else:
            check_images(inputs, backbone.name)
        backbone.prepare(inputs)
        if self._pending_backbone:
            if backbone.module is None:
                raise ArtifactError(
                    f"the saved encoder trained {backbone.name}, which has no module"
                )
            backbone.module.load_state_dict(self._pending_backbone)
            self._pending_backbone = {}
        identity = backbone.identity()
        if self.identity is not None and identity != self.identity and not self.backbone_trained:
            raise ArtifactError(
                f"the concept encoder was fitted on backbone weights {self.identity}; "
                f"{self.cfg.encoder_type} now has {identity}: refit it, or restore those weights"
            )
        self.identity = identity
        return backbone

    def backbone_embed(self, inputs: Any) -> Tensor:
        """The backbone's features of ``inputs``, unit norm, [n, backbone dim]; through the
        registry's embedding cache when ``use_cache`` and the backbone is frozen."""
        if len(inputs) == 0:
            raise DataError("no inputs to encode")
        backbone = self._ready(inputs)
        keys = backbone.cache_keys(inputs) if self.cfg.use_cache else None
        if keys is None or self.backbone_trained:
            with torch.no_grad():
                return F.normalize(backbone.features(inputs), dim=1)
        from neuroplast.encoders.cache import EmbeddingCache

        cache = EmbeddingCache(self._context.get_registry())
        found = cache.lookup(str(self.identity), list(dict.fromkeys(keys)), _CACHE_DTYPE)
        first: dict[str, int] = {}
        for row, key in enumerate(keys):
            first.setdefault(key, row)
        todo = [(k, i) for k, i in first.items() if k not in found]
        computed: dict[str, Any] = {}
        if todo:
            with torch.no_grad():
                vectors = backbone.features(_subset(inputs, [i for _, i in todo]))
            computed = {k: v.numpy() for (k, _), v in zip(todo, vectors, strict=True)}
        cache.store(str(self.identity), computed, _CACHE_DTYPE, hits=len(keys) - len(todo))
        every = {**found, **computed}
        out = torch.from_numpy(np.stack([np.asarray(every[k], dtype=np.float32) for k in keys]))
        return F.normalize(out, dim=1)

    def _make_head(self, width: int, seed: int) -> nn.Linear:
        if self.head is None or self.head.in_features != width:
            size = int(self.cfg.projection_dim or width)
            gen = torch.Generator().manual_seed(seed)
            head = nn.Linear(width, size)
            with torch.no_grad():  # a random orthogonal projection until it is fitted
                q, _ = torch.linalg.qr(
                    torch.randn(max(width, size), min(width, size), generator=gen)
                )
                head.weight.copy_(q.T if size <= width else q)
                head.bias.zero_()
            self.head = head
        return self.head

    def project(self, features: Tensor) -> Tensor:
        """The projection head (when ``projection_dim`` is set) and unit norm."""
        if self.cfg.projection_dim is None:
            return F.normalize(features, dim=1)
        head = self._make_head(int(features.shape[1]), 0)
        with torch.no_grad():
            return F.normalize(head(features), dim=1)

    def encode(self, inputs: Any) -> Tensor:
        """Unit-norm concept embeddings, [n, :attr:`dim`]."""
        return self.project(self.backbone_embed(inputs))

    # ---- training ----
    def fit_projection(
        self, embeddings: Tensor, labels: Any, *, epochs: int | None = None, seed: int = 0
    ) -> list[float]:
        """Train the projection head on backbone features (:meth:`backbone_embed`) and
        their labels with InfoNCE; returns the mean loss of each epoch."""
        if self.cfg.projection_dim is None:
            raise ConfigError(
                "fit_projection needs concept_encoder.projection_dim (the head's width)"
            )
        x, y = self._check_pairs(embeddings, labels)
        head = self._make_head(int(x.shape[1]), seed)
        losses = self._train(list(head.parameters()), lambda rows: head(x[rows]), y, epochs, seed)
        self.projection_fitted = True
        return losses

    def fit(
        self, inputs: Any, labels: Any, *, epochs: int | None = None, seed: int = 0
    ) -> list[float]:
        """``freeze_backbone: false``: train the backbone with the projection head (or with
        InfoNCE on its own features when there is no head); returns each epoch's loss."""
        if self.cfg.freeze_backbone:
            raise ConfigError(
                "fit trains the backbone: set concept_encoder.freeze_backbone: false, or use "
                "fit_projection for the head alone"
            )
        y = torch.as_tensor(labels, dtype=torch.int64)
        if len(y) != len(inputs):
            raise DataError(f"{len(inputs)} inputs but {len(y)} labels")
        backbone = self._ready(inputs)
        if backbone.module is None:
            raise ConfigError(f"{backbone.name} has no trainable module")
        params = list(backbone.module.parameters())
        head = None
        if self.cfg.projection_dim is not None:
            head = self._make_head(backbone.dim, seed)
            params += list(head.parameters())
        backbone.module.train()

        def forward(rows: Tensor) -> Tensor:
            z = F.normalize(backbone.features(_subset(inputs, rows.tolist())), dim=1)
            return head(z) if head is not None else z

        losses = self._train(params, forward, y, epochs, seed)
        backbone.module.eval()
        self.backbone_trained = True
        self.projection_fitted = head is not None
        return losses

    def _check_pairs(self, embeddings: Tensor, labels: Any) -> tuple[Tensor, Tensor]:
        x = torch.as_tensor(embeddings, dtype=torch.float32)
        y = torch.as_tensor(labels, dtype=torch.int64)
        if x.ndim != 2 or len(x) != len(y):
            raise DataError(
                f"expected embeddings [n, dim] and n labels; got {tuple(x.shape)} and {len(y)}"
            )
        return F.normalize(x, dim=1), y

    def _train(
        self, params: Sequence[Tensor], forward: Any, y: Tensor, epochs: int | None, seed: int
    ) -> list[float]:
        cfg = self.cfg
        gen = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(params, lr=cfg.projection_lr)
        losses = []
        for _ in range(epochs or cfg.projection_epochs):
            order = torch.randperm(len(y), generator=gen)
            total, batches = 0.0, 0
            for start in range(0, len(y), cfg.projection_batch_size):
                rows = order[start : start + cfg.projection_batch_size]
                if not (y[rows][:, None] == y[rows][None, :]).sum() > len(rows):
                    continue  # no two rows of one class: nothing to contrast
                loss = info_nce(forward(rows), y[rows], cfg.contrastive_temperature)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total, batches = total + float(loss.detach()), batches + 1
            if not batches:
                raise DataError("InfoNCE needs at least two examples of one class")
            losses.append(total / batches)
        return losses

    # ---- state ----
    def state_dict(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """(tensors, JSON-able meta): the head, the backbone when it was trained, and what
        the backbone was."""
        tensors: dict[str, Tensor] = {}
        if self.head is not None:
            tensors.update(
                {f"head.{k}": v.detach().clone() for k, v in self.head.state_dict().items()}
            )
        if (
            self.backbone_trained
            and self._backbone is not None
            and self._backbone.module is not None
        ):
            state = self._backbone.module.state_dict()
            tensors.update({f"backbone.{k}": v.detach().clone() for k, v in state.items()})
        meta = {
            "schema_version": SCHEMA_VERSION,
            "encoder_type": self.cfg.encoder_type,
            "identity": self.identity,
            "projection_dim": self.cfg.projection_dim,
            "projection_fitted": self.projection_fitted,
            "backbone_trained": self.backbone_trained,
        }
        return tensors, meta

    def load_state_dict(
        self, tensors: dict[str, Tensor], meta: dict[str, Any] | None = None
    ) -> None:
        """Restore what :meth:`state_dict` gave (a trained backbone's weights are applied
        when it is first built)."""
        meta = meta or {}
        if meta and meta.get("schema_version") != SCHEMA_VERSION:
            raise ArtifactError(
                f"concept encoder schema {meta.get('schema_version')!r} is not {SCHEMA_VERSION}"
            )
        if meta.get("encoder_type", self.cfg.encoder_type) != self.cfg.encoder_type:
            raise ArtifactError(
                f"the saved concept encoder is {meta['encoder_type']!r}; this one is "
                f"{self.cfg.encoder_type!r}"
            )
        head = {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}
        if head:
            out_dim, width = head["weight"].shape
            if self.cfg.projection_dim not in (None, out_dim):
                raise ArtifactError(
                    f"the saved head is {out_dim} wide, projection_dim is {self.cfg.projection_dim}"
                )
            self.head = nn.Linear(width, out_dim)
            self.head.load_state_dict(head)
        self._pending_backbone = {k[9:]: v for k, v in tensors.items() if k.startswith("backbone.")}
        self.identity = meta.get("identity")
        self.projection_fitted = bool(meta.get("projection_fitted", bool(head)))
        self.backbone_trained = bool(meta.get("backbone_trained", bool(self._pending_backbone)))
