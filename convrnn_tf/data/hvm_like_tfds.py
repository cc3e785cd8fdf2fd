"""tensorflow-datasets builder ``convrnn_hvm_like`` for the embedded HvM-like dataset.

Importing this module registers the builder with tensorflow-datasets (needs ``tensorflow-datasets``).
``download_and_prepare`` never downloads: it renders the images with
:func:`convrnn_tf.data.embedded.generate` and writes them (PNG-encoded, so lossless) under ``data_dir``::

    from convrnn_tf.data import hvm_like_tfds
    b = hvm_like_tfds.builder(data_dir="/tmp/tfds", image_size=32, images_per_object=4)
    b.download_and_prepare()
    ds = b.as_dataset(split="train")   # {"image": uint8 [32, 32, 3], "label": int64, "metadata": {...}}

Predefined configs (seed 0, 10 images per object and level, all defaults): ``px64`` (default),
``px32``, ``px128``; any other config gets a custom name ``custom_<hash of the config>``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from convrnn_tf.data import embedded

_CITATION = """\
@article{majaj2015simple,
  title   = {Simple Learned Weighted Sums of Inferior Temporal Neuronal Firing Rates Accurately
             Predict Human Core Object Recognition Performance},
  author  = {Majaj, Najib J. and Hong, Ha and Solomon, Ethan A. and DiCarlo, James J.},
  journal = {Journal of Neuroscience},
  volume  = {35},
  number  = {39},
  pages   = {13402--13418},
  year    = {2015},
  doi     = {10.1523/JNEUROSCI.5181-14.2015}
}
"""

_STRING_FIELDS = [k for k, v in embedded.METADATA_FIELDS.items() if v == "U"]


@dataclasses.dataclass(eq=False)
class HvmLikeConfig(tfds.core.BuilderConfig):
    """Generator settings (see :func:`convrnn_tf.data.embedded.generate`)."""

    seed: int = 0
    image_size: int = 64
    images_per_object: int = 10
    variations: tuple = embedded.VARIATIONS
    challenge_fraction: float = 0.25
    photo_fraction: float = 0.5
    split_fractions: tuple = (0.7, 0.15, 0.15)
    supersample: int = 2

    def generator_config(self) -> embedded.Config:
        return embedded.Config(seed=self.seed, image_size=self.image_size,
                               images_per_object=self.images_per_object, variations=self.variations,
                               challenge_fraction=self.challenge_fraction,
                               photo_fraction=self.photo_fraction, split_fractions=self.split_fractions,
                               supersample=self.supersample)


def _preset(size: int) -> HvmLikeConfig:
    return HvmLikeConfig(name=f"px{size}", image_size=size,
                         description=f"{size}x{size} pixels, seed 0, 10 images per object and level")


class ConvrnnHvmLike(tfds.core.GeneratorBasedBuilder):
    """HvM-like 8 categories x 8 objects at variation levels V0/V3/V6, rendered locally (no download)."""

    VERSION = tfds.core.Version(embedded.GENERATOR_VERSION)
    RELEASE_NOTES = {embedded.GENERATOR_VERSION: "First release."}
    BUILDER_CONFIGS = [_preset(64), _preset(32), _preset(128)]
    DEFAULT_BUILDER_CONFIG_NAME = "px64"

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config.generator_config()
        scalar = {k: tfds.features.Scalar(dtype=np.dtype(v)) for k, v in embedded.METADATA_FIELDS.items()
                  if v != "U"}
        text = {k: tfds.features.Text() for k in _STRING_FIELDS}
        return self.dataset_info_from_configs(
            description=(
                "Offline HvM-like image set (after Majaj, Hong, Solomon & DiCarlo 2015): 8 categories x 8 "
                "procedural 3-D objects rendered at variation levels V0/V3/V6 on 1/f-noise and photo "
                "backgrounds, with per-image pose and challenge metadata. Generated locally from a seed "
                "by convrnn_tf.data.embedded; nothing is downloaded. Images are uint8 in [0, 255]."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(cfg.image_size, cfg.image_size, 3),
                                             encoding_format="png"),
                "label": tfds.features.ClassLabel(names=list(embedded.CATEGORY_NAMES)),
                "metadata": tfds.features.FeaturesDict({**scalar, **text}),
            }),
            supervised_keys=("image", "label"),
            homepage=None,
            citation=_CITATION,
        )

    def download_and_prepare(self, *, download_config=None, **kwargs):
        """Render and write the dataset; GCS look-ups are switched off (nothing is fetched)."""
        if download_config is None:
            download_config = tfds.download.DownloadConfig(try_download_gcs=False)
        else:
            download_config = dataclasses.replace(download_config, try_download_gcs=False)
        return super().download_and_prepare(download_config=download_config, **kwargs)

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        images, metadata = embedded._generate(self.builder_config.generator_config())
        return {split: self._generate_examples(images, metadata, np.flatnonzero(metadata["split"] == split))
                for split in embedded.SPLITS}

    def _generate_examples(self, images, metadata, indices):
        for i in indices:
            meta = {k: v[i].item() for k, v in metadata.items()}
            yield meta["image_id"], {"image": images[i], "label": meta["category_label"], "metadata": meta}


def builder(data_dir=None, **config) -> ConvrnnHvmLike:
    """A ``ConvrnnHvmLike`` builder for the generator config ``config`` (keywords of ``generate``)."""
    cfg = embedded.Config(**config)  # validates, with clear ValueErrors
    for preset in ConvrnnHvmLike.BUILDER_CONFIGS:
        if preset.generator_config() == cfg:
            return ConvrnnHvmLike(config=preset.name, data_dir=data_dir)
    custom = HvmLikeConfig(name=f"custom_{cfg.key()}", description="custom config",
                           **{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})
    return ConvrnnHvmLike(config=custom, data_dir=data_dir)
