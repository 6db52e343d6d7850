"""The built-in concept-encoder backbones: ``minilm`` (the shipped MiniLM through
:mod:`neuroplast.encoders`, with the registry's embedding cache), ``efficientnet-lite0``
(its pooled 1280 ImageNet features), ``cnn`` (a registered neuroplast image model's pooled
features: the input of its last linear layer) and ``hf`` (``hf:<dir>``, a local Hugging Face
model: mean-pooled last hidden states of a text model, or the pooled output of an image
model)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from neuroplast.continual.neuromorphic._encoder_registry import (
    HF_PREFIX,
    Backbone,
    EncoderContext,
    check_images,
    check_texts,
    register_encoder,
)
from neuroplast.continual.neuromorphic.config import ConceptEncoderConfig
from neuroplast.errors import ConfigError

__all__ = ["CNNFeatures", "EfficientNetFeatures", "HFModel", "MiniLM"]

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _image_key(image: Tensor) -> str:
    array = image.detach().cpu().contiguous().to(torch.float32)
    digest = hashlib.sha256(f"{tuple(array.shape)}|".encode())
    digest.update(array.numpy().tobytes())
    return f"image:{digest.hexdigest()}"


@register_encoder("minilm")
class MiniLM(Backbone):
    """all-MiniLM-L6-v2 sentence vectors (384) through the registry's embedding cache."""

    name, modality = "minilm", "text"

    def __init__(self, cfg: ConceptEncoderConfig, context: EncoderContext) -> None:
        if not cfg.freeze_backbone:
            raise ConfigError(
                "concept_encoder.freeze_backbone: false cannot train the shared minilm "
                "encoder; name its folder instead (encoder_type: hf:<MiniLM dir>) to train a copy"
            )
        self.cfg, self.context = cfg, context
        self._service: Any = None

    @property
    def dim(self) -> int:
        from neuroplast.encoders.sentence import encoder_dim

        return encoder_dim(self.name)

    def identity(self) -> str:
        from neuroplast.encoders.sentence import encoder_id_of

        return encoder_id_of(self.name)

    def features(self, inputs: Any) -> Tensor:
        texts = check_texts(inputs, self.name)
        if self.cfg.use_cache:
            if self._service is None:
                from neuroplast.encoders import Embeddings

                self._service = Embeddings(self.context.get_registry())
            vectors = self._service.embed(texts, self.name, cache=True)
        else:
            from neuroplast.encoders import get_encoder

            vectors = get_encoder(self.name).encode(texts, batch_size=self.cfg.batch_size)
        return torch.from_numpy(vectors.astype("float32"))


class _ImageModule(Backbone):
    """A torch image model whose pooled features feed its last linear layer."""

    modality = "image"

    def __init__(self, cfg: ConceptEncoderConfig) -> None:
        self.cfg = cfg
        self.module: nn.Module | None = None
        self._pooled: list[Tensor] = []

    def _hook(self, model: nn.Module) -> None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ConfigError(f"{self.name}: the model has no linear layer to read features from")
        linears[-1].register_forward_pre_hook(lambda _m, args: self._pooled.append(args[0]))

    def _run(self, model: nn.Module, images: Tensor) -> Tensor:
        self._pooled.clear()
        model(images)
        return self._pooled.pop().to(torch.float32)

    def features(self, inputs: Any) -> Tensor:
        images = check_images(inputs, self.name)
        model = self._model(images)
        out = []
        for start in range(0, len(images), self.cfg.batch_size):
            out.append(self._run(model, images[start : start + self.cfg.batch_size]))
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def _model(self, images: Tensor) -> nn.Module:
        raise NotImplementedError

    def prepare(self, inputs: Any) -> None:
        self._model(check_images(inputs, self.name))

    def cache_keys(self, inputs: Any) -> list[str] | None:
        if not self.cfg.freeze_backbone:
            return None
        return [_image_key(image) for image in check_images(inputs, self.name)]


@register_encoder("efficientnet-lite0")
class EfficientNetFeatures(_ImageModule):
    """EfficientNet-Lite0's pooled ImageNet features (1280), images resized to
    ``image_size`` (a multiple of 32; null: the model's own choice for the input size)."""

    name = "efficientnet-lite0"

    def __init__(self, cfg: ConceptEncoderConfig, context: EncoderContext) -> None:
        super().__init__(cfg)
        self._shape: tuple[int, int] | None = None

    @property
    def dim(self) -> int:
        return 1280

    def _model(self, images: Tensor) -> nn.Module:
        shape = (int(images.shape[1]), int(images.shape[2]))
        if self.module is not None and shape == self._shape:
            return self.module
        if self.module is not None and not self.cfg.freeze_backbone:
            raise ConfigError(
                f"{self.name} was built for images {self._shape} (channels, side); got {shape}"
            )
        from neuroplast.models.efficientnet import (
            EfficientNetLite0Classifier,
            EfficientNetLite0Config,
        )

        try:
            config = EfficientNetLite0Config(
                num_classes=2,
                in_channels=shape[0],
                image_size=shape[1],
                resolution=self.cfg.image_size,
                finetune="head" if self.cfg.freeze_backbone else "full",
                feature_cache=False,
            )
        except ValidationError as e:
            raise ConfigError(f"concept_encoder for {self.name}: {e.errors()[0]['msg']}") from e
        model = EfficientNetLite0Classifier(config).eval()
        self._hook(model)
        self.module, self._shape = model, shape
        return model

    def identity(self) -> str:
        if self.module is None:
            return f"{self.name}/{self.cfg.image_size or 'auto'}"
        return str(self.module.weights_id())  # type: ignore[operator]


@register_encoder("cnn")
class CNNFeatures(_ImageModule):
    """A registered neuroplast image model (``model_ref``): the features its last linear
    layer reads (an image CNN's global average pool)."""

    name = "cnn"

    def __init__(self, cfg: ConceptEncoderConfig, context: EncoderContext) -> None:
        super().__init__(cfg)
        self.context = context
        self._identity = ""

    def _load(self) -> nn.Module:
        if self.module is None:
            from neuroplast.inference.registered import load_registered

            version, loaded = load_registered(self.context.get_registry(), str(self.cfg.model_ref))
            if loaded.meta.modality != "image":
                raise ConfigError(
                    f"concept_encoder.model_ref {version.ref} is a {loaded.meta.modality} model; "
                    "encoder_type: cnn reads an image model's features"
                )
            weights = sorted(f"{n}={a.sha256}" for n, a in version.artifacts.items())
            digest = hashlib.sha256("|".join(weights).encode()).hexdigest()[:16]
            self._identity = f"cnn/{version.ref}/{digest}"
            self.module = loaded.model.eval()  # ConceptEncoder.fit switches it to training
            self._hook(self.module)
        return self.module

    def _model(self, images: Tensor) -> nn.Module:
        return self._load()

    @property
    def dim(self) -> int:
        linears = [m for m in self._load().modules() if isinstance(m, nn.Linear)]
        return int(linears[-1].in_features)

    def identity(self) -> str:
        self._load()
        return self._identity


def _image_pool(result: Any) -> Tensor:
    """An image model's pooled output, else the mean of its last hidden state over tokens
    ([n, tokens, dim]) or positions ([n, channels, h, w])."""
    pooled = getattr(result, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    hidden = result.last_hidden_state
    return hidden.mean(dim=1) if hidden.ndim == 3 else hidden.flatten(2).mean(dim=-1)


def _hf_dir(cfg: ConceptEncoderConfig) -> Path:
    folder = Path(cfg.encoder_type[len(HF_PREFIX) :]).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"concept_encoder.encoder_type {cfg.encoder_type!r}: {folder} is not a Hugging Face "
            "model directory (no config.json); give the folder save_pretrained wrote"
        )
    return folder


@register_encoder("hf")
class HFModel(Backbone):
    """Any local Hugging Face model directory: a text model (it has a tokenizer) gives
    mean-pooled last hidden states; an image model its pooled output."""

    def __init__(self, cfg: ConceptEncoderConfig, context: EncoderContext) -> None:
        self.cfg, self.folder = cfg, _hf_dir(cfg)
        self.name = cfg.encoder_type
        has_tokenizer = any(
            (self.folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "spiece.model")
        )
        self.modality = "text" if has_tokenizer else "image"
        self.module: nn.Module | None = None
        self._tokenizer: Any = None
        self._identity = ""

    def _load(self) -> nn.Module:
        if self.module is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import transformers

                transformers.utils.logging.disable_progress_bar()  # a bar for a 0.1 s read
                model = transformers.AutoModel.from_pretrained(
                    str(self.folder), local_files_only=True, trust_remote_code=False
                )
                if self.modality == "text":
                    self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                        str(self.folder), local_files_only=True
                    )
            except ImportError as e:
                raise ConfigError(
                    "hf: encoders need transformers: pip install 'neuroplast[encoders]'"
                ) from e
            except (OSError, ValueError) as e:
                raise ConfigError(f"cannot load the model in {self.folder}: {e}") from e
            self.module = model.eval()  # ConceptEncoder.fit switches it to training
            self._identity = f"hf/{self.folder.resolve()}/{_folder_digest(self.folder)}"
        return self.module

    @property
    def dim(self) -> int:
        config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        for key in ("hidden_size", "hidden_dim", "d_model", "dim"):
            if isinstance(config.get(key), int):
                return int(config[key])
        found: Any = getattr(self._load(), "config", None)
        return int(found.hidden_size)

    def identity(self) -> str:
        self._load()
        return self._identity

    def cache_keys(self, inputs: Any) -> list[str] | None:
        if not self.cfg.freeze_backbone:
            return None
        if self.modality == "image":
            return [_image_key(image) for image in check_images(inputs, self.name)]
        from neuroplast.encoders.cache import text_key

        return [text_key(t) for t in check_texts(inputs, self.name)]

    def features(self, inputs: Any) -> Tensor:
        model = self._load()
        out = []
        if self.modality == "text":
            texts = check_texts(inputs, self.name)
            for start in range(0, len(texts), self.cfg.batch_size):
                out.append(self._text(model, texts[start : start + self.cfg.batch_size]))
        else:
            images = check_images(inputs, self.name)
            for start in range(0, len(images), self.cfg.batch_size):
                batch = images[start : start + self.cfg.batch_size]
                out.append(_image_pool(model(pixel_values=batch)).to(torch.float32))
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def _text(self, model: nn.Module, texts: list[str]) -> Tensor:
        batch = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.cfg.max_length,
            return_tensors="pt",
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)).to(torch.float32)


def _folder_digest(folder: Path) -> str:
    """sha256 over the weights files (each hashed once per process, size and mtime)."""
    digest = hashlib.sha256()
    for name in _WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            sha = _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            digest.update(f"{name}|{sha}|".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
