"""The standard-library S3 reader that `--repo s3://…` list, show and search refresh their view with.

Against the real SeaweedFS server: it lists and reads exactly what the s3fs
backend lists and reads, the commands answer the same through it as through
s3fs (an option only s3fs takes sends them there) and as the registry that
pushed, its errors are s3fs's, and on its path no S3 client library is imported.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import mreg
from mregtest import Mreg

try:
    from servers import s3_remote  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.skip("tests/servers.py is not in this tree", allow_module_level=True)

from mreg.core.remote.backends import open_reader, open_storage
from mreg.core.remote.s3 import S3Storage
from mreg.core.remote.s3_reader import S3Reader, open_reader as reader_for
from mreg.errors import IntegrityError, StorageError

# An option the reader leaves to s3fs: with it, the same command goes through s3fs.
THROUGH_S3FS = {"max_concurrency": "4"}


def _env(tmp_path, options: dict, cache: str = "cache") -> dict:
    return {"MREG_CACHE_DIR": str(tmp_path / cache),
            "MREG_REPO_OPTIONS": " ".join(f"{k}={v}" for k, v in options.items())}


def test_reader_lists_and_reads_what_s3fs_does(s3_remote):
    url, options = s3_remote()
    s3fs = open_storage(url, options)
    reader = open_reader(url, options)
    assert isinstance(reader, S3Reader) and isinstance(s3fs, S3Storage)
    # More than one page (S3 answers 1,000 keys per request), and keys that need encoding.
    keys = [f"models/m{i // 100}/log/{i:08d}.json" for i in range(1005)]
    keys += ["models/odd name+plus/log/00000001.json", "models/ünï/log/00000001.json", "config.toml"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3fs.create(key, key.encode() * 3), keys))
    s3fs._fs.pipe(f"{s3fs.bucket}/{s3fs.prefix}/.mreg-tmp/upload", b"x")  # an upload in progress: listed by neither
    for prefix in ("", "models/", "models/m3/", "nothing/"):
        assert sorted(reader.list(prefix)) == sorted(s3fs.list(prefix))
    assert len(list(reader.list("models/"))) == 1007
    for key in keys[::97] + keys[-3:]:
        assert reader.read(key, 1 << 20) == s3fs.read(key, 1 << 20) == key.encode() * 3
    assert reader.read("models/none.json", 100) is None and s3fs.read("models/none.json", 100) is None
    for storage in (reader, s3fs):
        with pytest.raises(IntegrityError, match="larger than 10 bytes"):
            storage.read("config.toml", 10)


def test_only_what_s3fs_would_do_alike_goes_through_the_reader(s3_remote, monkeypatch):
    url, options = s3_remote()
    assert reader_for(url, options) is not None
    assert reader_for(url, dict(options, **THROUGH_S3FS)) is None  # transfer options: s3fs checks them
    assert reader_for(url, dict(options, profile="p")) is None
    assert reader_for(url, {k: v for k, v in options.items() if k != "secret"}) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert reader_for(url, options) is None


def _pushed(tmp_path, url, options):
    src = tmp_path / "src"
    src.mkdir()
    registry = mreg.init(str(src))
    (src / "w.bin").write_bytes(b"weights")
    for name in ("alpha", "beta"):
        for n in range(3):
            registry.register(name, str(src / "w.bin"), version=f"1.{n}.0", metrics=[f"acc={0.5 + n / 10}"],
                              params=[f"lr={n}"])
    registry.transition("alpha@1.1.0", "testing")
    registry.remote_add("origin", url, options=options)
    registry.push()
    return Mreg(src)


def test_commands_read_the_same_through_the_reader_and_through_s3fs(s3_remote, tmp_path):
    url, options = s3_remote()
    local = _pushed(tmp_path, url, options)
    run = Mreg(tmp_path)
    for args in (["list"], ["show", "alpha"], ["show", "beta@1.2.0"], ["search", "metrics.acc > 0.55"]):
        truth = local(*args, "--json").json
        assert run("--repo", url, *args, "--json", env=_env(tmp_path, options)).json == truth, args
        s3fs_env = _env(tmp_path, dict(options, **THROUGH_S3FS), "cache-s3fs")
        assert run("--repo", url, *args, "--json", env=s3fs_env).json == truth, args


def test_the_reader_path_imports_no_s3_client_library(s3_remote, tmp_path):
    url, options = s3_remote()
    _pushed(tmp_path, url, options)

    def imported(options: dict) -> set[str]:
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mreg", "--repo", url, "list"],
                              env=dict(__import__("os").environ, **_env(tmp_path, options)), cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        modules = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if "|" in line}
        return {m.split(".")[0] for m in modules} & {"s3fs", "botocore", "aiobotocore", "aiohttp"}

    assert imported(options) == set()
    # The guard can fail: through s3fs, they are all there.
    assert imported(dict(options, **THROUGH_S3FS)) == {"s3fs", "botocore", "aiobotocore", "aiohttp"}


@pytest.mark.parametrize("fault", ["wrong secret", "missing bucket", "no server"])
def test_errors_are_those_of_s3fs(s3_remote, tmp_path, fault):
    url, options = s3_remote()
    if fault == "wrong secret":
        options = dict(options, secret="not-the-secret")
    elif fault == "missing bucket":
        url = "s3://no-such-bucket-here/r"
    else:
        options = dict(options, endpoint_url="http://127.0.0.1:9")
    run = Mreg(tmp_path)
    reader = run("--repo", url, "list", expect=5, env=_env(tmp_path, options))
    s3fs = run("--repo", url, "list", expect=5, env=_env(tmp_path, dict(options, **THROUGH_S3FS)))
    assert reader.err.startswith("mreg: error: ") and reader.err == s3fs.err
    with pytest.raises(StorageError):
        list(open_reader(url, options).list("models/"))


def test_signature_is_aws_own_example():
    """AWS's worked example of Signature Version 4 (GET Bucket, list objects, in its S3 API reference)."""
    import datetime

    reader = S3Reader("s3://examplebucket", None, "https", "examplebucket.s3.amazonaws.com", "", "", "us-east-1",
                      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)
    headers = reader._signed("/", "max-keys=2&prefix=J", datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")


def test_aws_addressing_is_botocores(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    keys = {"key": "k", "secret": "s"}
    assert reader_for("s3://bucket/p", keys) is None  # no endpoint and no region: botocore would look further
    place = reader_for("s3://my-bucket/p", dict(keys, region="eu-west-1"))
    assert (place._host, place._key_path("x")) == ("my-bucket.s3.eu-west-1.amazonaws.com", "/p/x")
    place = reader_for("s3://my.bucket/p", dict(keys, region="us-east-1"))  # a dot: not a host name under https
    assert (place._host, place._key_path("x")) == ("s3.amazonaws.com", "/my.bucket/p/x")
