"""Standard datasets by name, against a real HTTP server on 127.0.0.1 serving archives made here."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socketserver
import tarfile
import threading
from pathlib import Path

import pytest

from img2img.ingest import download as dl
from img2img.ingest.download import DatasetDownloadError, fetch_standard_dataset
from img2img.pipelines.data_processing.nodes import pair_images
from tests.conftest import save_aligned


def make_archive(
    path: Path, name: str = "facades", extra: list[tarfile.TarInfo] | None = None
) -> bytes:
    source = path.parent / "src"
    for split, count in (("train", 3), ("val", 1), ("test", 1)):
        for i in range(count):
            save_aligned(source / name / split / f"{i}.jpg", hash((split, i)) % 1000)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source / name, arcname=name)
        for member in extra or []:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


class Server:
    """A bounded local HTTP server: serves ``files`` (name -> bytes), optionally lying about sizes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.claimed_length: int | None = None
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                body = outer.files.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(outer.claimed_length or len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


def test_download_extract_then_no_network_needed(tmp_path, server):
    server.files["facades.tar.gz"] = make_archive(tmp_path / "made.tar.gz")
    raw = tmp_path / "raw"
    folder = fetch_standard_dataset("facades", raw, base_url=server.url, timeout=5)
    assert folder == raw / "facades"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "test",
        "train",
        "val",
    ]
    server.stop()
    assert fetch_standard_dataset("facades", raw, base_url=server.url, timeout=1) == folder


def test_data_processing_ingests_a_standard_dataset(tmp_path, server):
    server.files["facades.tar.gz"] = make_archive(tmp_path / "made.tar.gz")
    params = {"source": {"kind": "standard", "standard_name": "facades", "base_url": server.url,
                         "direction": "BtoA"}, "validation": {"min_size": 16}}  # fmt: skip
    pairs, rejected = pair_images(tmp_path / "raw", params)
    assert sorted(pairs["split"]) == ["test", "train", "train", "train", "val"]
    assert set(pairs["source_region"]) == {"right"} and rejected.empty


def test_hand_placed_archive_needs_no_network(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_archive(raw / "facades.tar.gz")
    folder = fetch_standard_dataset(
        "facades", raw, base_url="http://127.0.0.1:9/unreachable", timeout=1
    )
    assert (folder / "train" / "0.jpg").is_file()


def test_offline_error_names_the_url_and_the_hand_placement_path(tmp_path):
    with pytest.raises(DatasetDownloadError) as info:
        fetch_standard_dataset("maps", tmp_path, base_url="http://127.0.0.1:9/datasets", timeout=2)
    message = str(info.value)
    assert "http://127.0.0.1:9/datasets/maps.tar.gz" in message
    assert str(tmp_path / "maps.tar.gz") in message
    assert not (tmp_path / "maps").exists()


def test_http_404(tmp_path, server):
    with pytest.raises(DatasetDownloadError, match="404"):
        fetch_standard_dataset("cityscapes", tmp_path, base_url=server.url, timeout=5)


def test_truncated_download_is_not_extracted(tmp_path, server):
    body = make_archive(tmp_path / "made.tar.gz")
    server.files["facades.tar.gz"] = body[: len(body) // 2]
    server.claimed_length = len(body)
    with pytest.raises(DatasetDownloadError):
        fetch_standard_dataset("facades", tmp_path / "raw", base_url=server.url, timeout=5)
    assert not (tmp_path / "raw" / "facades").exists()
    assert not (tmp_path / "raw" / "facades.tar.gz").exists()


def test_a_known_checksum_is_verified(tmp_path, monkeypatch, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    body = make_archive(raw / "facades.tar.gz")
    published = hashlib.sha256(body).hexdigest()
    known = dl.StandardDataset("facades", "test", "BtoA", sha256=published, size=len(body))
    monkeypatch.setitem(dl.STANDARD_DATASETS, "facades", known)
    with caplog.at_level("INFO", logger=dl.__name__):
        folder = fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert json.loads((folder / dl.MARKER).read_text())["sha256"] == published
    assert "not compared" not in caplog.text


def test_checksum_mismatch_names_both_digests_and_moves_the_archive_aside(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    body = make_archive(raw / "facades.tar.gz")
    published = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(
        dl.STANDARD_DATASETS, "facades", dl.StandardDataset("facades", "test", "BtoA", published)
    )
    tampered = bytearray(body)
    tampered[-1] ^= 1  # one bit of the gzip trailer
    (raw / "facades.tar.gz").write_bytes(bytes(tampered))
    with pytest.raises(DatasetDownloadError) as info:
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert str(info.value) == (
        f"{raw / 'facades.tar.gz'}: SHA-256 mismatch: expected {published}, got "
        f"{hashlib.sha256(tampered).hexdigest()}; the file is not the published archive"
    )
    assert (raw / "facades.tar.gz.corrupt").is_file() and not (raw / "facades").exists()


def test_an_unknown_checksum_is_logged_not_compared(tmp_path, caplog):
    assert all(d.sha256 is None for d in dl.STANDARD_DATASETS.values())  # see the table's comment
    raw = tmp_path / "raw"
    raw.mkdir()
    body = make_archive(raw / "facades.tar.gz")
    with caplog.at_level("INFO", logger=dl.__name__):
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert f"SHA-256 {hashlib.sha256(body).hexdigest()} (no published SHA-256" in caplog.text


def archive_members(path: Path) -> tuple[int, int]:
    """(members, bytes of its regular files) of a tar.gz."""
    with tarfile.open(path, "r:gz") as tar:
        members = tar.getmembers()
    return len(members), sum(m.size for m in members if m.isfile())


def assert_left_in_place(raw: Path) -> None:
    assert (raw / "facades.tar.gz").is_file() and not (raw / "facades.tar.gz.corrupt").exists()
    left = sorted(p.name for p in raw.iterdir() if p.name != "src")  # src: what make_archive packed
    assert left == ["facades.tar.gz"]  # no half dataset, no staging folder


def test_too_many_members_stop_the_extraction(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_archive(raw / "facades.tar.gz")
    members, _ = archive_members(raw / "facades.tar.gz")
    limits = dl.ArchiveLimits(max_members=members - 1)
    with pytest.raises(dl.ArchiveNotExtracted) as info:
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)
    message = str(info.value)
    assert message.startswith(f"{raw / 'facades.tar.gz'}: has more than {members - 1} members")
    assert f"above data_processing.source.download_max_members={members - 1}." in message
    assert_left_in_place(raw)
    limits = dl.ArchiveLimits(max_members=members)
    assert fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)


def test_too_many_bytes_stop_the_extraction(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_archive(raw / "facades.tar.gz")
    _, unpacked = archive_members(raw / "facades.tar.gz")
    limits = dl.ArchiveLimits(max_unpacked_bytes=unpacked - 1)
    with pytest.raises(dl.ArchiveNotExtracted) as info:
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)
    message = str(info.value)
    assert message.startswith(f"{raw / 'facades.tar.gz'}: unpacks to more than {unpacked - 1} b")
    assert f"({unpacked} bytes declared up to member 'facades/" in message
    assert f"data_processing.source.download_max_unpacked_bytes={unpacked - 1}." in message
    assert_left_in_place(raw)
    limits = dl.ArchiveLimits(max_unpacked_bytes=unpacked)
    assert fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)


TARFILE_EXTRACTFILE = tarfile.TarFile.extractfile


def test_one_member_above_the_limit_is_refused_before_it_is_written(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    huge = tarfile.TarInfo("facades/train/huge.bin")
    huge.size = 50_000
    make_archive(raw / "facades.tar.gz", extra=[huge])

    def extractfile(tar, member):
        assert not member.name.endswith("huge.bin"), "the oversized member was read"
        return TARFILE_EXTRACTFILE(tar, member)

    monkeypatch.setattr(tarfile.TarFile, "extractfile", extractfile)
    limits = dl.ArchiveLimits(max_unpacked_bytes=40_000)
    with pytest.raises(dl.ArchiveNotExtracted, match="declared up to member 'facades/train/huge"):
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)
    assert_left_in_place(raw)


def test_bytes_actually_written_are_counted_not_the_headers(tmp_path, monkeypatch):
    """A member that yields more than its header declares (a lying archive, or a tarfile bug)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    make_archive(raw / "facades.tar.gz")
    _, unpacked = archive_members(raw / "facades.tar.gz")
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: io.BytesIO(b"x" * 30_000))
    limits = dl.ArchiveLimits(max_unpacked_bytes=max(unpacked, 100_000))
    with pytest.raises(dl.ArchiveNotExtracted, match=r"bytes written up to member 'facades/"):
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", limits=limits)
    assert_left_in_place(raw)


def test_archive_limits_come_from_the_parameters(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_archive(raw / "facades.tar.gz")
    params = {"source": {"kind": "standard", "base_url": "http://127.0.0.1:9/x",
                         "download_max_members": 3}}  # fmt: skip
    with pytest.raises(dl.ArchiveNotExtracted, match=r"download_max_members=3\."):
        pair_images(raw, params)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_malicious_archives_are_refused(tmp_path, kind):
    raw = tmp_path / "raw"
    raw.mkdir()
    member = tarfile.TarInfo(
        {"dotdot": "facades/../../evil", "absolute": "/tmp/evil", "symlink": "facades/link"}[kind]
    )
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 1
    make_archive(raw / "facades.tar.gz", extra=[member])
    with pytest.raises(DatasetDownloadError, match="refusing"):
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert not (raw / "facades").exists() and not (tmp_path / "evil").exists()


def test_unknown_name():
    with pytest.raises(ValueError, match="known: facades, maps"):
        fetch_standard_dataset("imagenet", Path("."))


def test_marker_records_the_archive_sha256_and_size(tmp_path, server, caplog):
    body = make_archive(tmp_path / "made.tar.gz")
    server.files["facades.tar.gz"] = body
    with caplog.at_level("INFO", logger=dl.__name__):
        folder = fetch_standard_dataset("facades", tmp_path / "raw", base_url=server.url, timeout=5)
    marker = json.loads((folder / dl.MARKER).read_text())
    assert marker == {
        "archive": "facades.tar.gz",
        "sha256": hashlib.sha256(body).hexdigest(),
        "size": len(body),
    }
    assert f"Downloaded {len(body)} bytes" in caplog.text
    assert not [p for p in (tmp_path / "raw").iterdir() if p.name.startswith(".")]  # no leftovers


def test_a_folder_without_marker_is_extracted_again(tmp_path):
    raw = tmp_path / "raw"
    (raw / "facades" / "train").mkdir(parents=True)  # e.g. a crash before the marker existed
    (raw / "facades" / "train" / "stale.jpg").write_bytes(b"half")
    make_archive(raw / "facades.tar.gz")
    folder = fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert not (folder / "train" / "stale.jpg").exists() and (folder / dl.MARKER).is_file()


def test_not_a_gzip_archive_is_moved_aside(tmp_path, server):
    server.files["facades.tar.gz"] = b"<html>not an archive</html>"
    raw = tmp_path / "raw"
    with pytest.raises(DatasetDownloadError, match=r"not a readable \.tar\.gz") as info:
        fetch_standard_dataset("facades", raw, base_url=server.url, timeout=5)
    assert str(raw / "facades.tar.gz") in str(info.value)
    assert (raw / "facades.tar.gz.corrupt").is_file() and not (raw / "facades").exists()


def test_an_archive_without_split_folders_is_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        member = tarfile.TarInfo("facades/readme.txt")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    (raw / "facades.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(DatasetDownloadError, match="no train/val/test folder"):
        fetch_standard_dataset("facades", raw, base_url="http://127.0.0.1:9/x", timeout=1)
    assert not (raw / "facades").exists()


def test_a_broken_http_response_is_a_download_error(tmp_path):
    class Garbage(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(4096)
            self.request.sendall(b"NOT-HTTP garbage\r\n\r\n")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage) as garbage:
        thread = threading.Thread(target=garbage.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{garbage.server_address[1]}/d"
        try:
            with pytest.raises(
                DatasetDownloadError, match=re.escape(str(tmp_path / "maps.tar.gz"))
            ):
                fetch_standard_dataset("maps", tmp_path, base_url=url, timeout=5)
        finally:
            garbage.shutdown()
            thread.join(timeout=5)
