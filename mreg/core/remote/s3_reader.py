"""Reading an S3 remote with the standard library alone: a listing and small whole objects.

`list`, `show` and `search --repo s3://…` refresh their index-only view with
one read and one listing. Through s3fs those two requests cost about 0.6 s
of CPU, nearly all of it importing s3fs, aiobotocore, botocore and aiohttp
and building the client; here they cost a few milliseconds. This reader
signs its requests itself (AWS Signature Version 4) and does only what the
refresh needs: ListObjectsV2 under a prefix and GET of a small object.

It is used only where it reaches the same server with the same credentials
as s3fs would (`open_reader`): key and secret given (as options or as
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), an endpoint given or a region
known, and nothing set that s3fs would read differently (a profile, an AWS
config file, a proxy, FIPS or dual-stack endpoints, transfer options). Any
other remote goes through s3fs, as everything else does. Its errors are the
S3 backend's, word for word where the server gives them.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import os
import random
import time
from collections.abc import Iterator
from urllib.parse import quote, unquote_plus, urlsplit

from mreg.core.remote.backends import TEMPORARY, check_key, check_prefix
from mreg.core.remote.s3_errors import answer_error
from mreg.errors import IntegrityError, StorageError

# What the reader can take; any other option (a profile, transfer tuning) is s3fs's to read or refuse.
OPTIONS = ("endpoint_url", "key", "secret", "token", "region")
# Set, these change where or how botocore connects, so the reader steps aside.
_BOTOCORE_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
# A listing page is 1,000 keys of a few hundred bytes of XML each.
MAX_LISTING = 16 << 20
MAX_ERROR = 64 << 10  # an error document is a few hundred bytes
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# As the S3 backend's client: 10 s to connect, 120 s per read, 3 attempts on a server error.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120
ATTEMPTS = 3
RETRIED_STATUS = (500, 502, 503, 504)
def open_reader(url: str, options: dict[str, str]) -> "S3Reader | None":
    """A reader for the S3 remote at `url`, or None where only s3fs can reproduce the configuration."""
    env = os.environ
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment or set(options) - set(OPTIONS):
        return None
    if any(env.get(name) for name in _BOTOCORE_SETTINGS):
        return None
    if os.path.exists(env.get("AWS_CONFIG_FILE") or os.path.expanduser("~/.aws/config")):
        return None  # a profile there may set the region, the addressing style, an endpoint
    if "key" in options or "secret" in options:
        if not options.get("key") or not options.get("secret"):
            return None
        key, secret, token = options["key"], options["secret"], options.get("token")
    elif "token" in options:
        return None
    elif env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        key, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
    else:
        return None  # credentials from files, SSO or instance metadata: botocore's chain
    region = options.get("region") or env.get("AWS_DEFAULT_REGION")
    endpoint = options.get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    bucket = parts.netloc
    if endpoint:
        place = urlsplit(endpoint)
        if place.scheme not in ("http", "https") or not place.hostname or place.path not in ("", "/") \
                or place.query or place.username:
            return None
        # botocore addresses a bucket on an endpoint it was given by path.
        scheme, host, path = place.scheme, place.netloc, f"/{bucket}"
        region = region or "us-east-1"
    else:
        if not _aws_region(region):
            return None
        scheme, (host, path) = "https", _aws_place(bucket, region)
    prefix = parts.path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except IntegrityError:
            return None  # the S3 backend says why
    return S3Reader(url, endpoint, scheme, host, path, prefix, region, key, secret, token)


def _aws_region(region: str | None) -> bool:
    """Whether `region` names a region of AWS's main partition (China, GovCloud and ISO are left to s3fs)."""
    return bool(region) and region.isascii() and region.replace("-", "").isalnum() \
        and not region.startswith(("cn-", "us-gov-", "us-iso"))


def _aws_place(bucket: str, region: str) -> tuple[str, str]:
    """The host and path prefix of `bucket` on AWS in `region`, as botocore addresses it."""
    # botocore's (legacy) global endpoint for us-east-1, a regional one elsewhere.
    domain = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
    # Virtual-hosted where the bucket can be a host name under https (no dots), else by path.
    plain = bucket.isascii() and bucket.replace("-", "").isalnum() and bucket == bucket.lower() \
        and 3 <= len(bucket) <= 63 and bucket[0].isalnum() and bucket[-1].isalnum()
    return (f"{bucket}.{domain}", "") if plain else (domain, f"/{bucket}")


class S3Reader:
    """The read side of an S3 remote over one keep-alive connection: `list` and `read`, nothing else."""

    threadsafe = False  # one connection

    def __init__(self, url: str, endpoint: str | None, scheme: str, host: str, path: str, prefix: str,
                 region: str, key: str, secret: str, token: str | None) -> None:
        self.url = url
        self.endpoint = endpoint
        self.bucket = urlsplit(url).netloc
        self._scheme, self._host, self._path, self.prefix = scheme, host, path, prefix
        self._region, self._key, self._secret, self._token = region, key, secret, token
        self._connection: http.client.HTTPConnection | None = None

    # --- reading ------------------------------------------------------------------
    def read(self, key: str, limit: int) -> bytes | None:
        doing = f"reading {key}"
        status, headers, body = self._get(self._key_path(key), {}, limit, doing, key)
        if status == 404:
            code, _ = _error_of(body)
            if code != "NoSuchBucket":
                return None
        if status != 200:
            raise self._error(status, body, doing)
        return body

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        doing = f"listing {prefix or '/'}"
        token = None
        while True:
            # encoding-type=url, as botocore asks: a key is then always valid XML.
            query = {"list-type": "2", "prefix": root + prefix, "encoding-type": "url"}
            if token:
                query["continuation-token"] = token
            status, _, body = self._get(self._path or "/", query, MAX_LISTING, doing, None)
            if status != 200:
                raise self._error(status, body, doing)
            found, token = _page(body, self.url)
            for name, size in found:
                if name.startswith(root) and not name[len(root):].startswith(TEMPORARY):
                    yield name[len(root):], size
            if token is None:
                return

    # --- plumbing -----------------------------------------------------------------
    def _key_path(self, key: str) -> str:
        check_key(key)
        return f"{self._path}/{self.prefix}/{key}" if self.prefix else f"{self._path}/{key}"

    def _where(self) -> str:
        return f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _get(self, path: str, query: dict[str, str], limit: int, doing: str,
             key: str | None) -> tuple[int, object, bytes]:
        """One signed GET, retried on a server error or a lost connection; (status, headers, body up to `limit`)."""
        for attempt in range(ATTEMPTS):
            try:
                status, headers, body = self._send(path, query, limit, key)
            except (ConnectionRefusedError, OSError, http.client.HTTPException) as exc:
                retry = not isinstance(exc, ConnectionRefusedError) and attempt + 1 < ATTEMPTS
                self._close()
                if retry:
                    time.sleep(random.uniform(0, 0.2 * 2 ** attempt))
                    continue
                shown = f"{self._scheme}://{self._host}{path}"
                raise StorageError(f"cannot reach the S3 endpoint for {self._where()}: "
                                   f'Could not connect to the endpoint URL: "{shown}"') from None
            if status in RETRIED_STATUS and attempt + 1 < ATTEMPTS:
                time.sleep(random.uniform(0, 0.2 * 2 ** attempt))
                continue
            if self._moved(status, headers.get("x-amz-bucket-region") or _error_of(body, "Region")):
                return self._get(self._key_path(key) if key else self._path or "/", query, limit, doing, key)
            return status, headers, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _moved(self, status: int, region: str | None) -> bool:
        """Whether AWS said the bucket is in another region, which this reader then addresses, as
        botocore does: the same request is sent again there."""
        if self.endpoint or status not in (301, 307, 400) or region == self._region or not _aws_region(region):
            return False
        self._close()
        self._region = region
        self._host, self._path = _aws_place(self.bucket, region)
        return True

    def _send(self, path: str, query: dict[str, str], limit: int, key: str | None) -> tuple[int, object, bytes]:
        target = quote(path, safe="/-_.~")
        canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                                   for k, v in sorted(query.items()))
        headers = self._signed(target, canonical_query)
        if self._connection is None:
            if self._scheme == "https":
                import ssl

                context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
                self._connection = http.client.HTTPSConnection(self._host, timeout=CONNECT_TIMEOUT, context=context)
            else:
                self._connection = http.client.HTTPConnection(self._host, timeout=CONNECT_TIMEOUT)
            self._connection.connect()
            self._connection.sock.settimeout(READ_TIMEOUT)
        self._connection.request("GET", target + (f"?{canonical_query}" if canonical_query else ""), headers=headers)
        answer = self._connection.getresponse()
        length = answer.getheader("Content-Length")
        if answer.status == 200 and length is not None and length.isdigit() and int(length) > limit:
            self._close()
            raise IntegrityError(f"{self.url}: {key or 'a listing'} is larger than {limit} bytes")
        cap = limit if answer.status == 200 else MAX_ERROR
        body = answer.read(cap + 1)
        if len(body) > cap:
            self._close()
            if answer.status == 200:
                raise IntegrityError(f"{self.url}: {key or 'a listing'} is larger than {limit} bytes")
            body = b""  # not an S3 error document: the status alone speaks
        elif answer.will_close:
            self._close()
        return answer.status, answer.headers, body

    def _signed(self, target: str, canonical_query: str, now: datetime.datetime | None = None) -> dict[str, str]:
        """The headers of a GET of `target`, signed with AWS Signature Version 4 (at `now`, default the time)."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = {"host": self._host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
        if self._token:
            headers["x-amz-security-token"] = self._token
        names = ";".join(sorted(headers))
        canonical = "\n".join([
            "GET", target, canonical_query,
            "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers)),
            names, EMPTY_SHA256,
        ])
        scope = f"{day}/{self._region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signing = ("AWS4" + self._secret).encode()
        for part in (day, self._region, "s3", "aws4_request"):
            signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self._key}/{scope}, "
                                    f"SignedHeaders={names}, Signature={signature}")
        headers["User-Agent"] = "mreg"
        return headers

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _error(self, status: int, body: bytes, doing: str) -> StorageError:
        """The S3 backend's error for an answer that is not a success."""
        code, message = _error_of(body)
        return answer_error(code, status, message, url=self.url, endpoint=self.endpoint, bucket=self.bucket,
                            doing=doing)


def _xml(body: bytes):
    """The parsed document; S3 never sends a DOCTYPE, so one (and with it any entity) is refused unread."""
    import xml.etree.ElementTree as ElementTree

    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ValueError("a DOCTYPE")
    return ElementTree.fromstring(body)


def _children(element) -> dict[str, object]:
    return {child.tag.rpartition("}")[2]: child for child in element}


def _error_of(body: bytes, name: str | None = None):
    """An S3 error document's Code and Message ('' for each if there is none); or its field `name`."""
    try:
        fields = _children(_xml(body)) if body else {}
    except Exception:
        fields = {}
    if name is not None:
        return (fields[name].text or "").strip() if name in fields else ""
    return tuple(" ".join((fields[field].text or "").split()) if field in fields else ""
                 for field in ("Code", "Message"))


def _page(body: bytes, url: str) -> tuple[list[tuple[str, int]], str | None]:
    """The keys and sizes of one ListObjectsV2 page, and the token for the next (None on the last)."""
    try:
        root = _xml(body)
        found = []
        token = None
        truncated = False
        for child in root:
            tag = child.tag.rpartition("}")[2]
            if tag == "Contents":
                fields = _children(child)
                found.append((unquote_plus(fields["Key"].text or ""), int(fields["Size"].text or "0")))
            elif tag == "IsTruncated":
                truncated = (child.text or "").strip() == "true"
            elif tag == "NextContinuationToken":
                token = child.text
    except Exception as exc:
        raise StorageError(f"S3 sent a listing of {url} that cannot be read: {type(exc).__name__}") from None
    return found, token if truncated and token else None
