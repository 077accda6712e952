"""Training the candidate association network (KeepTrack §5): candidate dumps with data mining,
training samples (partial supervision, self-supervision), the loss, and the training loop."""
