"""rdt.transformers stand-in: the one-hot encoder that the reference CTGAN's DataTransformer uses.

Stand-in for RDT used only to run the reference CTGAN where RDT cannot be installed (see
__init__.py); the timed training loop is the reference's own code.
"""
import numpy as np
import pandas as pd


class OneHotEncodingTransformer:
    """One column per distinct value seen by `fit` (in order of appearance, NaN included).

    `transform` gives an (n, len(dummies)) 0/1 matrix (all zeros for a value not seen by `fit`);
    `reverse_transform` maps each row's argmax back to its value.
    """

    def __init__(self):
        self.dummies = None

    @staticmethod
    def _flat(data):
        data = np.asarray(data, dtype=object)
        if data.ndim == 2:
            data = data[:, 0]
        return pd.Series(data, dtype=object)

    def fit(self, data):
        self.dummies = list(pd.unique(self._flat(data)))
        return self

    def transform(self, data):
        values = self._flat(data)
        out = np.zeros((len(values), len(self.dummies)), dtype=int)
        for j, dummy in enumerate(self.dummies):
            if isinstance(dummy, float) and np.isnan(dummy):
                out[:, j] = values.isna().to_numpy()
            else:
                out[:, j] = (values == dummy).to_numpy()
        return out

    def reverse_transform(self, data):
        idx = np.argmax(np.asarray(data), axis=1)
        return pd.Series(idx).map(lambda i: self.dummies[i])
