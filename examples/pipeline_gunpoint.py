"""TS2Vec embeddings + SVM on GunPoint, cross-validated and grid-searched.

Run: ``python examples/pipeline_gunpoint.py`` (about two minutes on two CPU cores).
"""

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import TS2VecTransformer, load_dataset

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
pipe = Pipeline(
    [("enc", TS2VecTransformer(n_iters=100, random_state=0)), ("svm", SVC())],
    memory="/tmp/sslts_cache",  # the encoder is fitted once per fold, not once per C
)
grid = GridSearchCV(pipe, {"svm__C": [0.1, 1, 10, 100]}, cv=3, verbose=1)
grid.fit(X_train, y_train)
print("best C:", grid.best_params_["svm__C"])
print("test accuracy:", grid.score(X_test, y_test))
