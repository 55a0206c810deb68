"""Deploying appgen to Google Cloud.

images.py    image tags from content: a hash of what each Dockerfile copies
"""
