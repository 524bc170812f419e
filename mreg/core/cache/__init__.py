"""A derived read cache under `.mreg/cache/`, for questions about every model at once.

Three kinds of file live here, each owned by one module: per-model summaries
for `list` (`summaries.py`, `models.json`), source hints for the store
(`sources.py`, `sources.json`) and per-model search columns (`search.py`,
`search/`). `files.py` reads and replaces the cache files for all three.

The index files stay the only source of truth. Each entry derived from a
model's `_index.json` is tagged with that file's identity when it was read: inode, size,
mtime and ctime. A reader re-derives every entry whose file no longer has
that identity, drops entries of models that are gone, and rewrites the cache
if anything changed. Index writers never touch it, so a write still costs the
same at any registry size, and a register costs the next `list` one index file.

Every index write replaces the file by a rename, so its identity changes.
One corner is left, the one git calls "racily clean": a file replaced twice
within one timestamp tick, with a recycled inode and the same size. An entry
is therefore trusted only if the file was already older than `RACY_NS` (files.py)
when the entry was derived; younger files are re-read until they age.

The cache can be deleted at any time; a damaged or unknown one is ignored
and rebuilt. It is written without fsync: after a crash it is either whole
(each entry still checks itself against its file) or unreadable (rebuilt).
"""
