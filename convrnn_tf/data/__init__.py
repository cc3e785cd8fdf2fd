"""Datasets for convrnn_tf. The default is an offline, embedded, HvM-like image set.

Embedded default dataset (``convrnn_tf.data.embedded``)
=======================================================

What it is
----------
A small image-classification dataset that is *generated locally and deterministically from a seed*. It
needs no network and no files beyond what the installed packages ship. It stands in for ImageNet when a
model has to be trained quickly on a CPU, and it is the stimulus set for the neural-fitting and decoding
analyses. Its design follows the HvM image set that the Majaj et al. (2015) recordings use:

* **8 categories x 8 objects.** Categories are named after HvM's: animals, boats, cars, chairs, faces,
  fruits, planes, tables. The objects are crude procedural caricatures, not HvM's 3-D models. Each
  object is a union of 3-12 ellipsoids. The objects of one category share a *plan* (for a chair: a
  seat, a back and four legs). The plan's dimensions are drawn once per category (the prototype). Each
  object then adds its own optional parts (arm rests, a sail, a pear-like lobe, ...), an overall
  stretch, jitter of every part's position, size and orientation, and its own colour. Colour is drawn
  independently of category, so only shape tells the categories apart.
* **Variation levels V0, V3, V6.** Pose ranges grow with the level. Image coordinates span [-1, 1].
  Rotations are relative to a canonical three-quarter view seen from about 28 degrees above.

  ======  ==============  =======================  ======================================
  level   translation     scale (log-uniform)      rotations rot_x, rot_y (in depth),
          ``tx``, ``ty``                           rot_z (in plane)
  ======  ==============  =======================  ======================================
  V0      0 (centred)     1                        0 (canonical view)
  V3      +-0.3           0.8 - 1.25               +-45 degrees each
  V6      +-0.6           0.625 - 1.6              +-90 degrees each
  ======  ==============  =======================  ======================================

  At scale 1 an object's bounding sphere has radius 0.78 (about 40% of the image width). At V6 it can
  run off the frame, as in HvM.
* **Backgrounds.** Half of the images are expected to get a coloured 1/f ("pink") noise texture. The
  other half get a random crop (flipped, with brightness and saturation jitter) of one of the two
  photos that ship with scikit-learn (``sklearn.datasets.load_sample_images()``: china.jpg and
  flower.jpg). Each image's background is drawn at random (``photo_fraction``, default 0.5), so the
  split is half and half on average, not exactly. The photos are decoded with Pillow when it is
  installed. Otherwise ``tf.io.decode_jpeg`` with the accurate integer DCT decodes them, and it gives
  the same bytes.
* **Challenge images.** Exactly ``round(challenge_fraction * n)`` of the n images of each variation
  level (default 25%) are *challenge* images. They are spread evenly over the categories and objects.
  The other images are *control* images. Challenge images come in three kinds, in equal numbers:
  ``low_contrast`` (the object's colours are pulled 60-80% of the way towards the background under
  it), ``occlusion`` (a smooth textured blob in front of part of the object) and ``clutter`` (3-5
  distractor blobs, most of them behind the object and some in front).
* **Splits.** ``train`` / ``validation`` / ``test`` (default 0.7 / 0.15 / 0.15), deterministic in the
  seed and stratified by object. Each object has those fractions of its images in each split (rounded;
  at least one image per split when the object has 3 or more). Within an object, the splits are spread
  over the variation levels. The split is stored in the ``split`` metadata field.

How it is made
--------------
Everything is NumPy (``_shapes.py``, ``_render.py``). The camera is orthographic. For every pixel ray
and ellipsoid, the hit depth solves a closed-form quadratic, and the nearest hit wins (a z-buffer).
Each ellipsoid is only evaluated inside the bounding box of its projection. Shading is Lambertian
(light from the upper left front) plus an ambient term and a weak highlight. Each pixel averages 2x2
rays (anti-aliasing), and the object is composited over the background. Every image draws its pose,
background and challenge from its own random streams (``SeedSequence([seed, stream, object, level,
index])``). As a result, identical seeds and configs give byte-identical images and metadata on the
same platform and library versions, and an image does not depend on how many others are generated.
At 64x64, an image takes about 5-10 ms on one CPU core.

API
---
``generate(seed=0, image_size=64, images_per_object=10, variations=("V0", "V3", "V6"),
challenge_fraction=0.25, photo_fraction=0.5, split_fractions=(0.7, 0.15, 0.15), supersample=2,
return_masks=False)`` returns ``(images, metadata)``:

* ``images`` are ``uint8 [N, H, W, 3]`` RGB in [0, 255], with N = 64 x levels x ``images_per_object``.
  ImageNet-style normalisation is applied by the consumer, not here.
* ``metadata`` is a dict of NumPy arrays of length N (no pandas). Its fields:

  - ``index``, ``image_id`` (stable string ``s<seed>-<object>-<level>-<k>``)
  - ``object_name`` (e.g. ``chairs_3``), ``object_label`` (0-63)
  - ``category_name``, ``category_label`` (0-7)
  - ``variation`` ("V0"/"V3"/"V6"), ``variation_level`` (0/3/6)
  - ``tx``, ``ty``, ``scale``, ``rot_x``, ``rot_y``, ``rot_z`` (degrees)
  - ``challenge`` (bool), ``challenge_type`` ("none", "low_contrast", "occlusion", "clutter")
  - ``background`` ("noise"/"photo"), ``object_area`` (fraction of the image showing the object), ``split``

  ``records(metadata)`` gives the same data as a list of per-image dicts.

Other entry points:

* ``load(...)``: ``generate`` memoised and cached to ``<cache_dir>/hvm_like_<config hash>.npz``. The
  default cache folder is ``$CONVRNN_TF_DATA_DIR/embedded``, or ``~/.cache/convrnn_tf/embedded`` when
  that variable is unset.
* ``embedded_dataset(split, batch_size, image_size, seed, ...)``: a plain ``tf.data.Dataset`` of
  ``(uint8 images, int32 labels)``, with an option to add metadata. It does not need
  tensorflow-datasets.
* ``tfds_builder(data_dir, **config)`` / ``hvm_like_tfds.ConvrnnHvmLike``: a tensorflow-datasets
  builder registered as ``convrnn_hvm_like``. Its configs are ``px64`` (the default), ``px32`` and
  ``px128``; any other config is named ``custom_<hash>``. ``download_and_prepare()`` renders locally
  into ``data_dir`` and never downloads anything.
* ``python -m convrnn_tf.data.embedded --contact-sheet sheet.png`` prints the generation time and
  writes a contact sheet: one row per category, columns V0 | V3 | V6, challenge images framed red.

All of these are reached through ``convrnn_tf.data.embedded`` (generation and the cache), which
re-exports the rest: the constants and ``Config`` (``embedded_spec.py``), ``embedded_dataset`` and
``tfds_builder`` (``embedded_tf.py``), and ``contact_sheet``, ``save_png`` and ``main``
(``embedded_sheet.py``).

Bad arguments (an unknown split, ``image_size`` < 16, a negative count, ...) raise a ``ValueError``
that names the argument.

Citing
------
This dataset only imitates the design of the HvM image set. It is not HvM and contains none of its
images or models. If you use it, cite the HvM set that inspired it:

    Majaj, N. J., Hong, H., Solomon, E. A., & DiCarlo, J. J. (2015). Simple learned weighted sums of
    inferior temporal neuronal firing rates accurately predict human core object recognition
    performance. Journal of Neuroscience, 35(39), 13402-13418. doi:10.1523/JNEUROSCI.5181-14.2015

The BibTeX entry is ``convrnn_tf.data.hvm_like_tfds._CITATION``. The background photos are
scikit-learn's sample images; see scikit-learn's documentation for their licence.
"""

_EXPORTS = (
    "CATEGORY_NAMES", "CHALLENGE_TYPES", "METADATA_FIELDS", "OBJECT_NAMES", "SPLITS", "VARIATIONS",
    "embedded_dataset", "generate", "load", "records", "tfds_builder",
)
__all__ = list(_EXPORTS)


def __getattr__(name):
    # Lazy, so that ``python -m convrnn_tf.data.embedded`` does not import the module twice.
    if name in _EXPORTS:
        from convrnn_tf.data import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
