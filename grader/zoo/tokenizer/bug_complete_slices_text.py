"""Decodes prompt and continuation together and cuts the text at len(prompt) characters."""

import torch

HINT = "slice_ids"


def complete(tokenizer, model, prompt, max_new_tokens, temperature=0.0, top_k=None, top_p=None):
    input_ids = torch.tensor([tokenizer.encode(prompt)])
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    output = generate(model, input_ids, max_new_tokens, eos_token_id=tokenizer.eos_id, **sampling)  # noqa: F821
    return tokenizer.decode(output[0].tolist())[len(prompt) :]
