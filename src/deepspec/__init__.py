"""DeepSpec: the toolkit that makes drafters for DSpark: data, training, evaluation, calibration,
export."""
__version__ = "0.1.0"
