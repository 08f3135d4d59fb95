"""The LiT trainer: tunes only the text tower on a person's captions; image vectors stay locked."""
