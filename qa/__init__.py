"""Grounded question answering over news articles, with citations to exact passages."""
