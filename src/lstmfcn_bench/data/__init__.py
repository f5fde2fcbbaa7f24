"""The data layer: the UCR registry and names (registry), getting raw files into a verified
cache (acquire), parsing them (formats), preprocessing (preprocess), and the prepared dataset
on disk that every later step reads (dataset), and which way round its train and test splits
are for a run (splits)."""
