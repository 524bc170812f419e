"""Looking at a remote's storage from the server's side, without mreg: what a killed upload left there.

A folder and the test SFTP server's folder are read on the local disk; S3
through a plain botocore client. Tests use this to prove a kill landed
mid-upload (a temporary or an unfinished upload exists while the log entry
does not) and that gc removed it afterwards.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

TEMPORARY = ".mreg-tmp"  # the prefix every backend's uploads in progress use


class ServerSide:
    def __init__(self, url: str, options: dict) -> None:
        self.url = url
        parts = urlsplit(url)
        self.kind = parts.scheme if "://" in url else "folder"
        if self.kind == "s3":
            import botocore.session

            self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
            self.client = botocore.session.get_session().create_client(
                "s3", endpoint_url=options["endpoint_url"], aws_access_key_id=options["key"],
                aws_secret_access_key=options["secret"], region_name="us-east-1")
        else:
            self.root = Path(parts.path if self.kind == "sftp" else url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        if self.kind != "s3":
            return (self.root / key).is_file()
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except self.client.exceptions.ClientError:
            return False

    def leftovers(self) -> list[str]:
        """Every temporary key or file, and every unfinished multipart upload, under the remote."""
        if self.kind != "s3":
            return sorted(str(p.relative_to(self.root)) for p in self.root.rglob(f"{TEMPORARY}*") if p.is_file())
        root = f"{self.prefix}/" if self.prefix else ""
        keys = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{root}{TEMPORARY}/").get("Contents", [])
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=root).get("Uploads", [])
        return sorted([k["Key"] for k in keys] + [f"upload {u['Key']}" for u in uploads if u["Key"].startswith(root)])

    def object_uploads(self) -> list[str]:
        """The leftovers of object uploads (not of a claim's or a log entry's small write)."""
        if self.kind != "s3":
            return [name for name in self.leftovers() if name.startswith("objects/")]
        return self.leftovers()  # on S3 only a large file's multipart upload writes a temporary

    def plant(self, size: int = 1000) -> None:
        """Leave what a killed upload leaves: a temporary file (S3: a temporary key and an unfinished upload)."""
        data = os.urandom(size)
        if self.kind != "s3":
            folder = self.root / "objects" / "ab"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{TEMPORARY}{'-' if self.kind == 'sftp' else ''}{secrets.token_hex(8)}"
            (folder / name).write_bytes(data)
            return
        temporary = self._key(f"{TEMPORARY}/{secrets.token_hex(12)}")
        self.client.put_object(Bucket=self.bucket, Key=temporary, Body=data)
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=temporary + "p")["UploadId"]
        self.client.upload_part(Bucket=self.bucket, Key=temporary + "p", UploadId=upload, PartNumber=1, Body=data)
