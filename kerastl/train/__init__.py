"""Training: recipes over the freezing machinery, and the frozen-phase feature cache."""
from kerastl.train.feature_cache import fit_head, split_at_features
from kerastl.train.recipes import RECIPES, fine_tune

__all__ = ["RECIPES", "fine_tune", "fit_head", "split_at_features"]
