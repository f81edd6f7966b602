"""fine_tune computes the loss and the gradients but never calls optimizer.step()."""

HINT = "learn"


def fine_tune(model, input_ids, steps, lr):
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(input_ids, labels=input_ids).loss
        loss.backward()
        losses.append(loss.item())
    return losses
