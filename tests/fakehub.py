"""A local stand-in for the Hugging Face Hub, serving dataset repos from memory on 127.0.0.1.

It implements exactly what ``huggingface_hub.snapshot_download`` uses for a dataset, as read
from huggingface_hub's source:

- ``GET /api/datasets/{repo}/revision/{rev}``: repo info, whose ``sha`` is the commit;
- ``GET /api/datasets/{repo}/tree/{rev}?recursive=…``: the file listing (one page, no
  ``Link`` header);
- ``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``: a file, with ``X-Repo-Commit``,
  ``ETag`` and ``Content-Length``.

Unknown repos, revisions and files answer 404 with the ``X-Error-Code`` the real Hub sends
(``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``), so huggingface_hub raises its
real exception types. A *gated* repo (like ``cmu-lti/tau-usi``) answers ``GatedRepo`` — 401
without a token, 403 with a token that has not been granted access — to everything except
requests carrying its granted token. Every request is recorded for the tests to inspect.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class FakeRepo:
    """One dataset repo at one commit."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        digest = hashlib.sha1()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + self.files[path])
        self.commit = digest.hexdigest()

    def blob_id(self, path: str) -> str:
        data = self.files[path]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """Dataset repos keyed by ``owner/name``; ``main`` and the commit sha are valid revisions."""

    def __init__(
        self, repos: dict[str, dict[str, bytes]], gated: dict[str, str] | None = None
    ) -> None:
        """``gated``: repo id → the one token whose owner accepted the repo's terms."""
        self.repos = {repo_id: FakeRepo(files) for repo_id, files in repos.items()}
        self.gated = dict(gated or {})
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @contextmanager
    def serve(self) -> Iterator[FakeHub]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, send_body=False)

            def do_GET(self) -> None:
                hub._handle(self, send_body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)

    # -- routing ---------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, *, send_body: bool) -> None:
        url = urlsplit(request.path)
        path = unquote(url.path)
        self.requests.append((request.command, request.path))
        if path.startswith("/api/datasets/"):
            rest = path.removeprefix("/api/datasets/")
            if "/revision/" in rest:
                repo_id, revision = rest.split("/revision/", 1)
                self._repo_info(request, repo_id, revision)
                return
            if "/tree/" in rest:
                repo_id, tail = rest.split("/tree/", 1)
                revision = tail.split("/", 1)[0]
                self._tree(request, repo_id, revision, parse_qs(url.query))
                return
        if path.startswith("/datasets/") and "/resolve/" in path:
            repo_id, tail = path.removeprefix("/datasets/").split("/resolve/", 1)
            revision, _, filename = tail.partition("/")
            self._resolve(request, repo_id, revision, filename, send_body=send_body)
            return
        self._error(request, 404, None, "no such endpoint")

    def _lookup(
        self, request: BaseHTTPRequestHandler, repo_id: str, revision: str
    ) -> FakeRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(request, 404, "RepoNotFound", "Repository not found")
            return None
        granted = self.gated.get(repo_id)
        if granted is not None:
            auth = request.headers.get("Authorization")
            if auth != f"Bearer {granted}":
                message = f"Access to dataset {repo_id} is restricted. You must have access to it."
                self._error(request, 401 if auth is None else 403, "GatedRepo", message)
                return None
        if revision not in ("main", repo.commit):
            self._error(request, 404, "RevisionNotFound", "Invalid rev id", commit=None)
            return None
        return repo

    def _repo_info(self, request: BaseHTTPRequestHandler, repo_id: str, revision: str) -> None:
        repo = self._lookup(request, repo_id, revision)
        if repo is None:
            return
        body = {
            "id": repo_id,
            "sha": repo.commit,
            "private": False,
            "siblings": [{"rfilename": name} for name in sorted(repo.files)],
        }
        self._json(request, body, repo.commit)

    def _tree(
        self,
        request: BaseHTTPRequestHandler,
        repo_id: str,
        revision: str,
        query: dict[str, list[str]],
    ) -> None:
        repo = self._lookup(request, repo_id, revision)
        if repo is None:
            return
        entries: list[dict[str, object]] = []
        folders: set[str] = set()
        for name in sorted(repo.files):
            parts = name.split("/")
            for depth in range(1, len(parts)):
                folders.add("/".join(parts[:depth]))
            entries.append(
                {
                    "type": "file",
                    "path": name,
                    "size": len(repo.files[name]),
                    "oid": repo.blob_id(name),
                }
            )
        entries += [{"type": "directory", "path": f, "oid": "0" * 40} for f in sorted(folders)]
        if query.get("recursive", ["false"])[0].lower() != "true":
            entries = [e for e in entries if "/" not in str(e["path"])]
        self._json(request, entries, repo.commit)

    def _resolve(
        self,
        request: BaseHTTPRequestHandler,
        repo_id: str,
        revision: str,
        filename: str,
        *,
        send_body: bool,
    ) -> None:
        repo = self._lookup(request, repo_id, revision)
        if repo is None:
            return
        data = repo.files.get(filename)
        if data is None:
            self._error(request, 404, "EntryNotFound", "Entry not found", commit=repo.commit)
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/octet-stream")
        request.send_header("Content-Length", str(len(data)))
        request.send_header("ETag", f'"{repo.blob_id(filename)}"')
        request.send_header("X-Repo-Commit", repo.commit)
        request.end_headers()
        if send_body:
            request.wfile.write(data)

    # -- responses -------------------------------------------------------------------------

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, body: object, commit: str) -> None:
        data = json.dumps(body).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.send_header("X-Repo-Commit", commit)
        request.end_headers()
        request.wfile.write(data)

    @staticmethod
    def _error(
        request: BaseHTTPRequestHandler,
        status: int,
        code: str | None,
        message: str,
        commit: str | None = None,
    ) -> None:
        data = json.dumps({"error": message}).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        if code is not None:
            request.send_header("X-Error-Code", code)
            request.send_header("X-Error-Message", message)
        if commit is not None:
            request.send_header("X-Repo-Commit", commit)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)
