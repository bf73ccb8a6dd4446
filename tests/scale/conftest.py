"""The hosts every scale test shares (started once: four processes cost most of the time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factories import write_manifest
from pgcluster import PgCluster
from scale.support import SECRET_ENV, ChatApp, Cluster, answers, environment, manifest_dict
from web.support import UvicornThread


@pytest.fixture(scope="package")
def chat() -> Iterator[ChatApp]:
    """The app's privacy endpoint (kind: http), served on loopback."""
    app = ChatApp()
    with UvicornThread(app.app) as server:
        app.url = server.url
        yield app
    app.release.set()


@pytest.fixture(scope="package")
def hosts(pg_cluster: PgCluster, chat: ChatApp, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Cluster]:
    """Serves ``a`` and ``b``, workers ``w1`` and ``w2``, on one fresh database."""
    from personvern.storage.migrate import upgrade

    directory = tmp_path_factory.mktemp("scale")
    db_url = pg_cluster.create_database()
    upgrade(db_url)
    manifest = write_manifest(directory, manifest_dict(directory / "shop.db",
                                                       f"{chat.url}/privacy"))
    cluster = Cluster(manifest, db_url, environment(
        PERSONVERN_JOBS="worker", **{SECRET_ENV: "chat-hemmelighet"}), directory)
    try:
        serves = [cluster.serve("a"), cluster.serve("b")]
        workers = [cluster.worker("w1"), cluster.worker("w2")]
        for host in serves:
            cluster.wait_up(host, lambda h=host: answers(str(h.url)))  # type: ignore[misc]
        for w in workers:
            cluster.wait_up(w, lambda w=w: "Starting worker" in w.output())  # type: ignore[misc]
        yield cluster
    finally:
        cluster.stop_all()
        pg_cluster.drop_database(db_url.rsplit("/", 1)[1])
