"""Training: recipes over the freezing machinery, and the frozen-phase feature cache."""
from kerastl.train.distributed import fit_distributed
from kerastl.train.feature_cache import fit_head, split_at_features
from kerastl.train.recipes import RECIPES, fine_tune

__all__ = ["RECIPES", "fine_tune", "fit_distributed", "fit_head", "split_at_features"]
