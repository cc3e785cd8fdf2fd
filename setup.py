"""Packaging for convrnn_tf (`pip install .`; `pip install -e .[test]` for the test tools)."""

from setuptools import find_packages, setup

setup(
    name="convrnn_tf",
    version="0.1.0",
    description=(
        "Convolutional recurrent networks of the primate ventral visual stream "
        "(Nayebi et al. 2018/2022) in TensorFlow/Keras 3"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["convrnn_tf", "convrnn_tf.*"]),
    package_data={"convrnn_tf": ["zoo/specs/*.json", "gin/*.gin"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.12",
        "gin-config>=0.5.0",
        "absl-py>=2.0",
        "numpy>=1.26",
        "scikit-learn>=1.4",
        "threadpoolctl",  # BLAS thread limits around the many small eigh calls of kernel PLS (also a scikit-learn dependency)
        # ImageNet and other image datasets; the embedded default is also a tfds builder.
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets 4.9 imports it but does not declare it.
        "importlib_resources>=6",
        # TF 2.21 no longer depends on it, and tf.summary needs it.
        "tensorboard>=2.16",
        # PNG plots of the neural-fitting and dynamics results.
        "matplotlib>=3.8",
        # Neural recordings as labelled arrays (the Brain-Score / brainio NetCDF layout).
        "xarray>=2024.1",
        "h5netcdf>=1.3",
    ],
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3.5"]},
    entry_points={
        "console_scripts": [
            "convrnn-describe=convrnn_tf.cli.describe:run",
            "convrnn-train=convrnn_tf.cli.train:run",
            "convrnn-evaluate=convrnn_tf.cli.evaluate:run",
            "convrnn-extract-features=convrnn_tf.cli.extract_features:run",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
