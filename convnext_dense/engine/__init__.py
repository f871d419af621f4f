from .hooks import CheckFiniteLossHook, NonFiniteLossError, ProgressBarHook, RngStateHook
from .layer_decay import LayerDecayOptimizerConstructor
from .resume import find_resumable_checkpoint, is_intact_checkpoint

__all__ = ['CheckFiniteLossHook', 'LayerDecayOptimizerConstructor', 'NonFiniteLossError',
           'ProgressBarHook', 'RngStateHook', 'find_resumable_checkpoint', 'is_intact_checkpoint']
