"""A cache that keeps a dict of (keys, values) per layer and counts positions itself."""

import torch

HINT = None


class KVCache:
    def __init__(self):
        self.layers = {}

    def update(self, key_states, value_states, layer_idx):
        if layer_idx in self.layers:
            keys, values = self.layers[layer_idx]
            key_states = torch.cat((keys, key_states), dim=2)
            value_states = torch.cat((values, value_states), dim=2)
        self.layers[layer_idx] = (key_states, value_states)
        return key_states, value_states

    def get_seq_length(self, layer_idx=0):
        return self.layers[layer_idx][0].size(2) if layer_idx in self.layers else 0
