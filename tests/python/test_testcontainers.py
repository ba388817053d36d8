"""Testcontainers for Python against berthd: a container with a read-only
host bind, a published port on a network of its own with an alias, exec,
and a file copied in. Ryuk (the reaper) is off: its image comes from
Docker Hub, which tests never reach."""

import io
import os
import tarfile
import time
import urllib.request

os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"

from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402
from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: E402


def test_container_with_bind_port_network_exec_and_copy(tmp_path):
    (tmp_path / "h.txt").write_text("from-host\n")
    script = ("cat /h/h.txt; mkdir -p /www; echo tc > /www/index.html; "
              "exec httpd -f -p 8080 -h /www")
    with Network() as network:
        container = (DockerContainer("busybox")
                     .with_command(["sh", "-c", script])
                     .with_volume_mapping(str(tmp_path), "/h", "ro")
                     .with_exposed_ports(8080)
                     .with_network(network)
                     .with_network_aliases("web")
                     .waiting_for(LogMessageWaitStrategy("from-host")))
        with container as c:
            port = int(c.get_exposed_port(8080))
            body = b""
            for _ in range(100):
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html",
                                                  timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            assert body == b"tc\n"

            code, out = c.exec(["cat", "/h/h.txt"])
            assert (code, out) == (0, b"from-host\n")
            code, _ = c.exec(["touch", "/h/new"])
            assert code != 0
            assert not (tmp_path / "new").exists()

            data = io.BytesIO()
            with tarfile.open(fileobj=data, mode="w") as tar:
                info = tarfile.TarInfo("copied.txt")
                info.size = 3
                tar.addfile(info, io.BytesIO(b"in\n"))
            assert c.get_wrapped_container().put_archive("/tmp", data.getvalue())
            assert c.exec(["cat", "/tmp/copied.txt"]) == (0, b"in\n")
            name = c.get_wrapped_container().name
        client = c.get_docker_client().client
        assert [x.name for x in client.containers.list(all=True) if x.name == name] == []
