"""Never passes eos_token_id: the text goes on after the model wrote EOS."""

import torch

HINT = "eos_id"


def complete(tokenizer, model, prompt, max_new_tokens, temperature=0.0, top_k=None, top_p=None):
    input_ids = torch.tensor([tokenizer.encode(prompt)])
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    output = generate(model, input_ids, max_new_tokens, **sampling)  # noqa: F821
    return tokenizer.decode(output[0, input_ids.shape[1] :].tolist())
