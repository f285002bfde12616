"""The contracts every component fills in: layer, loss, optimizer, schedule, metric, data
source, learning rule and logger, one file each."""
