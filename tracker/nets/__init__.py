"""KeepTrack networks in plain PyTorch (no compiled extensions): ResNet-50, DiMP classifier, IoU-Net, PrRoIPool and
the target-candidate association network. Module trees match the pytracking checkpoints' keys; load weights only
through tracker.checkpoints."""
