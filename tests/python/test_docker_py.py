"""docker-py against berthd: the calls scripts and Testcontainers make."""

import docker
import pytest


@pytest.fixture(scope="module")
def client():
    c = docker.from_env(timeout=60)
    yield c
    for container in c.containers.list(all=True):
        container.remove(force=True)
    c.close()


def test_ping_version_info(client):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"
    assert client.info()["Driver"] == "overlay2"


def test_run_returns_output(client):
    out = client.containers.run("busybox", ["sh", "-c", "echo hello"], remove=True)
    assert out == b"hello\n"


def test_run_nonzero_raises_container_error(client):
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert info.value.exit_status == 3


def test_detached_lifecycle_and_logs(client):
    c = client.containers.run("busybox", ["sh", "-c", "echo ready; sleep 300"],
                              detach=True, name="pyweb", labels={"suite": "py"},
                              environment={"K": "v"})
    try:
        c.reload()
        assert c.status == "running"
        assert c.name == "pyweb"
        assert "K=v" in c.attrs["Config"]["Env"]
        listed = client.containers.list(filters={"label": "suite=py"})
        assert [x.id for x in listed] == [c.id]
        for _ in range(100):
            if c.logs() == b"ready\n":
                break
        assert c.logs() == b"ready\n"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        assert c.wait()["StatusCode"] == 137
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyweb")


def test_missing_image_and_container_errors(client):
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nope:latest")
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("nope")


def test_images_list_tag_and_remove(client):
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    image.tag("pytagged", "v1")
    assert "pytagged:v1" in client.images.get("pytagged:v1").tags
    client.images.remove("pytagged:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("pytagged:v1")


def test_exec_run_output_exit_code_env_user_workdir(client):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="pyexec")
    try:
        code, out = c.exec_run(["sh", "-c", "echo hi; exit 3"])
        assert (code, out) == (3, b"hi\n")
        code, out = c.exec_run(["sh", "-c", "id -un; pwd; echo $E"], user="app",
                               workdir="/tmp", environment={"E": "x"})
        assert (code, out) == (0, b"app\n/tmp\nx\n")
        code, out = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        assert out == (b"o\n", b"e\n")
    finally:
        c.remove(force=True)


def test_top_rename_and_events(client):
    import time
    since = int(time.time()) - 1
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="pytop")
    try:
        top = c.top()
        assert "PID" in top["Titles"]
        assert any("sleep 300" in " ".join(p) for p in top["Processes"])
        c.rename("pytop2")
        c.reload()
        assert c.name == "pytop2"
    finally:
        c.remove(force=True)
    events = list(client.events(since=since, until=int(time.time()) + 1, decode=True,
                                filters={"container": c.id}))
    actions = [e["Action"] for e in events]
    assert actions[:2] == ["create", "start"]
    assert "rename" in actions and actions[-1] == "destroy"


def test_networks_and_published_ports(client):
    """What Testcontainers does: a network, a container on it with an alias,
    a published port found through the container's attrs."""
    import socket
    import time

    network = client.networks.create("pynet", labels={"by": "docker-py"})
    try:
        assert network.attrs["Driver"] == "bridge"
        assert [n.name for n in client.networks.list(names=["pynet"])] == ["pynet"]
        server = client.containers.run(
            "busybox",
            ["sh", "-c", "mkdir -p /www && echo py-hello > /www/index.html && exec httpd -f -p 80 -h /www"],
            detach=True,
            ports={"80/tcp": None},
            network="pynet",
        )
        try:
            server.reload()
            host_port = int(server.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
            assert server.ports["80/tcp"][0]["HostIp"] == "0.0.0.0"
            network.reload()
            assert server.id in network.attrs["Containers"]
            reply = b""
            for _ in range(100):
                try:
                    with socket.create_connection(("127.0.0.1", host_port), timeout=5) as s:
                        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        reply = s.makefile("rb").read()
                    if b"py-hello" in reply:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            assert b"py-hello" in reply
        finally:
            server.remove(force=True)
    finally:
        network.remove()
    assert client.networks.list(names=["pynet"]) == []


def test_volumes_and_mounts(client):
    volume = client.volumes.create("pyvol", labels={"by": "docker-py"})
    try:
        assert volume.attrs["Driver"] == "local"
        assert [v.name for v in client.volumes.list(filters={"label": "by=docker-py"})] == ["pyvol"]
        out = client.containers.run(
            "busybox", ["sh", "-c", "echo kept > /data/f"],
            volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
        assert out == b""
        c = client.containers.run(
            "busybox", ["cat", "/data/f"], detach=True,
            mounts=[docker.types.Mount("/data", "pyvol", type="volume", read_only=True)])
        try:
            assert c.wait()["StatusCode"] == 0
            assert c.logs() == b"kept\n"
            mounts = c.attrs["Mounts"]
            assert mounts[0]["Name"] == "pyvol" and mounts[0]["RW"] is False
            with pytest.raises(docker.errors.APIError) as info:
                volume.remove()
            assert info.value.status_code == 409
        finally:
            c.remove()
    finally:
        volume.remove()
    assert client.volumes.list(filters={"name": "pyvol"}) == []


def test_copy_in_and_out_export_diff_commit(client):
    """What Testcontainers' copy_to_container and friends do."""
    import io
    import tarfile

    c = client.containers.create("busybox", ["cat", "/in.txt"])
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            payload = b"from docker-py\n"
            info = tarfile.TarInfo("in.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        assert c.put_archive("/", data.getvalue()) is True
        c.start()
        assert c.wait()["StatusCode"] == 0
        assert c.logs() == b"from docker-py\n"
        stream, stat = c.get_archive("/in.txt")
        assert stat["name"] == "in.txt" and stat["size"] == len(payload)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("in.txt").read() == payload
        assert {"Path": "/in.txt", "Kind": 1} in c.diff()
        exported = b"".join(c.export())
        with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
            assert "in.txt" in tar.getnames()
        image = c.commit(repository="pycommit", tag="v1", changes=['CMD ["cat", "/in.txt"]'])
        try:
            assert client.containers.run("pycommit:v1", remove=True) == payload
        finally:
            client.images.remove(image.id, force=True)
    finally:
        c.remove(force=True)


def test_prune_containers_networks_and_build_cache(client):
    label = {"pytest-prune": "1"}
    stopped = client.containers.run(
        "busybox", ["sh", "-c", "head -c 100000 /dev/zero > /data"], labels=label, detach=True
    )
    stopped.wait()
    running = client.containers.run("busybox", ["sleep", "60"], labels=label, detach=True)
    other = client.containers.create("busybox", ["true"])
    try:
        report = client.containers.prune(filters={"label": "pytest-prune=1"})
        assert report["ContainersDeleted"] == [stopped.id]
        assert report["SpaceReclaimed"] >= 100000
        assert {c.id for c in client.containers.list(all=True)} >= {running.id, other.id}
        assert client.containers.prune(filters={"label": "pytest-prune=1"})["ContainersDeleted"] is None
        with pytest.raises(docker.errors.APIError) as info:
            client.containers.prune(filters={"bogus": "1"})
        assert info.value.status_code == 400
        network = client.networks.create("pytest-prune-net", labels=label)
        assert client.networks.prune(filters={"label": "pytest-prune"}) == {
            "NetworksDeleted": [network.name]
        }
        assert client.api.prune_builds() == {"CachesDeleted": None, "SpaceReclaimed": 0}
    finally:
        running.remove(force=True)
        other.remove(force=True)
