"""convrnn_tf: convolutional recurrent networks of the primate ventral stream in Keras 3.

After Nayebi, Bear, Kubilius, Kar, Ganguli, Sussillo, DiCarlo & Yamins (NeurIPS 2018;
Neural Computation 2022).
"""

__version__ = "0.1.0"
