"""Remotes: one registry shared through storage a team already runs.

`storage` is the one interface every backend implements (a shared folder,
S3, SFTP, GCS, Azure); the remote registry's format and the commands built on
it sit above it and never import a backend directly. Nothing here is imported
unless a remote is used, so local commands start as fast as before.
"""
