"""Functional mode: real tensors through a schedule; the numerics of every op and engine."""
