"""Concatenates cached keys and values along the heads axis instead of the sequence axis."""

import torch

HINT = "cache_dim"


class KVCache(KVCache):  # noqa: F821  (the chapter's KVCache, with this update)
    def update(self, key_states, value_states, layer_idx):
        if layer_idx == len(self.keys):
            self.keys.append(key_states)
            self.values.append(value_states)
        else:
            self.keys[layer_idx] = torch.cat([self.keys[layer_idx], key_states], dim=1)
            self.values[layer_idx] = torch.cat([self.values[layer_idx], value_states], dim=1)
        return self.keys[layer_idx], self.values[layer_idx]
