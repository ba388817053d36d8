//! Tests of whole calls against a scripted daemon on a private socket: what
//! goes over the wire, and how replies, streams and upgrades come back.

use crate::demux::copy_demuxed;
use crate::{
    AttachOptions, Client, ClientError, ImportOptions, ImportSource, ListContainersOptions,
    WaitCondition,
};
use berth_api::container::CreateRequest;
use std::future::Future;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

/// One request as the fake daemon read it.
#[derive(Debug)]
struct Received {
    head: String,
    body: Vec<u8>,
}

impl Received {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    fn has_header(&self, line: &str) -> bool {
        self.head.lines().any(|l| l.eq_ignore_ascii_case(line))
    }
}

/// Serves one connection: reads a request, hands it to `reply` with the
/// socket, and returns the client plus what was received.
async fn serve_once<F, Fut>(reply: F) -> (Client, tempfile::TempDir, oneshot::Receiver<Received>)
where
    F: FnOnce(BufReader<UnixStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut reader = BufReader::new(stream);
        let received = read_request(&mut reader).await;
        tx.send(received).unwrap();
        reply(reader).await;
    });
    (Client::new(&path), dir, rx)
}

async fn read_request(reader: &mut BufReader<UnixStream>) -> Received {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        body.resize(len.parse().unwrap(), 0);
        reader.read_exact(&mut body).await.unwrap();
    } else if header("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await.unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await.unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Received { head, body }
}

fn json_reply(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn write(mut reader: BufReader<UnixStream>, text: String) {
    reader.get_mut().write_all(text.as_bytes()).await.unwrap();
}

#[tokio::test]
async fn create_posts_the_body_and_name() {
    let (client, _dir, received) = serve_once(|s| {
        write(
            s,
            json_reply("201 Created", r#"{"Id":"abc123","Warnings":[]}"#),
        )
    })
    .await;
    let body = CreateRequest {
        config: berth_api::container::ContainerConfig {
            image: "busybox".into(),
            cmd: Some(vec!["ls".into(), "-la".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let created = client.create_container(Some("web"), &body).await.unwrap();
    assert_eq!(created.id, "abc123");
    let received = received.await.unwrap();
    assert_eq!(
        received.request_line(),
        "POST /v1.45/containers/create?name=web HTTP/1.1"
    );
    assert!(received.has_header("content-type: application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(sent["Image"], "busybox");
    assert_eq!(sent["Cmd"], serde_json::json!(["ls", "-la"]));
}

#[tokio::test]
async fn daemon_errors_carry_status_and_message() {
    let (client, _dir, _received) = serve_once(|s| {
        write(
            s,
            json_reply("404 Not Found", r#"{"message":"No such container: nope"}"#),
        )
    })
    .await;
    let err = client
        .stop_container("nope", Some(3), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 404, message } if message == "No such container: nope")
    );
}

#[tokio::test]
async fn not_modified_is_success() {
    let (client, _dir, received) =
        serve_once(|s| write(s, "HTTP/1.1 304 Not Modified\r\n\r\n".to_string())).await;
    client.start_container("web").await.unwrap();
    assert_eq!(
        received.await.unwrap().request_line(),
        "POST /v1.45/containers/web/start HTTP/1.1"
    );
}

#[tokio::test]
async fn list_sends_filters_and_limit() {
    let (client, _dir, received) = serve_once(|s| write(s, json_reply("200 OK", "[]"))).await;
    let mut options = ListContainersOptions {
        all: true,
        limit: Some(1),
        ..Default::default()
    };
    options.filters.insert("status", "exited");
    assert!(client.list_containers(&options).await.unwrap().is_empty());
    assert_eq!(
        received.await.unwrap().request_line(),
        "GET /v1.45/containers/json?all=1&limit=1&filters=%7B%22status%22%3A%5B%22exited%22%5D%7D HTTP/1.1"
    );
}

#[tokio::test]
async fn wait_returns_after_headers_and_the_status_comes_later() {
    let (release, released) = oneshot::channel::<()>();
    let (client, _dir, received) = serve_once(move |mut s| async move {
        s.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        released.await.unwrap();
        let body = r#"{"StatusCode":3}"#;
        let chunk = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        s.get_mut().write_all(chunk.as_bytes()).await.unwrap();
    })
    .await;
    let pending = client
        .begin_wait("web", WaitCondition::NextExit)
        .await
        .unwrap();
    assert_eq!(
        received.await.unwrap().request_line(),
        "POST /v1.45/containers/web/wait?condition=next-exit HTTP/1.1"
    );
    release.send(()).unwrap();
    assert_eq!(pending.result().await.unwrap().status_code, 3);
}

#[tokio::test]
async fn attach_upgrades_and_carries_both_directions() {
    let (client, _dir, received) = serve_once(|mut s| async move {
        s.get_mut()
            .write_all(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
            .await
            .unwrap();
        let mut input = Vec::new();
        s.read_to_end(&mut input).await.unwrap();
        let mut frames = vec![1, 0, 0, 0, 0, 0, 0, input.len() as u8];
        frames.extend(&input);
        frames.extend([2, 0, 0, 0, 0, 0, 0, 4]);
        frames.extend(b"err\n");
        s.get_mut().write_all(&frames).await.unwrap();
    })
    .await;
    let options = AttachOptions {
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        logs: false,
    };
    let mut conn = client.attach_container("web", &options).await.unwrap();
    let received = received.await.unwrap();
    assert_eq!(
        received.request_line(),
        "POST /v1.45/containers/web/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1"
    );
    assert!(received.has_header("upgrade: tcp"));
    assert!(received.has_header("connection: Upgrade"));
    conn.write_all(b"hi\n").await.unwrap();
    conn.shutdown().await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    copy_demuxed(conn, &mut out, &mut err).await.unwrap();
    assert_eq!(out, b"hi\n");
    assert_eq!(err, b"err\n");
}

#[tokio::test]
async fn import_streams_the_tar_and_reads_the_id() {
    let (client, _dir, received) =
        serve_once(|s| write(s, json_reply("200 OK", "{\"status\":\"sha256:0123\"}\r\n"))).await;
    let tar = vec![5u8; 200_000];
    let options = ImportOptions {
        repo: Some("img".into()),
        tag: Some("v1".into()),
        changes: vec!["CMD [\"sh\"]".into(), "ENV A=b".into()],
        message: None,
    };
    let mut messages = client
        .import_image(
            ImportSource::Tar(Box::new(std::io::Cursor::new(tar.clone()))),
            &options,
        )
        .await
        .unwrap();
    let first = messages.next_message().await.unwrap().unwrap();
    assert_eq!(first.status.as_deref(), Some("sha256:0123"));
    assert!(messages.next_message().await.unwrap().is_none());
    let received = received.await.unwrap();
    assert_eq!(
        received.request_line(),
        "POST /v1.45/images/create?fromSrc=-&repo=img&tag=v1&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db HTTP/1.1"
    );
    assert!(received.has_header("transfer-encoding: chunked"));
    assert!(received.has_header("content-type: application/x-tar"));
    assert_eq!(received.body, tar);
}

#[tokio::test]
async fn load_reports_stream_errors() {
    let (client, _dir, _received) = serve_once(|s| {
        write(
            s,
            json_reply(
                "200 OK",
                "{\"stream\":\"Loaded image: busybox:latest\\n\"}\n{\"errorDetail\":{\"message\":\"bad layer\"},\"error\":\"bad layer\"}\n",
            ),
        )
    })
    .await;
    let mut messages = client
        .load_images(std::io::Cursor::new(b"tar".to_vec()), false)
        .await
        .unwrap();
    let loaded = messages.next_message().await.unwrap().unwrap();
    assert_eq!(
        loaded.stream.as_deref(),
        Some("Loaded image: busybox:latest\n")
    );
    let err = messages.next_message().await.unwrap_err();
    assert_eq!(err.to_string(), "bad layer");
}

#[tokio::test]
async fn remove_image_returns_the_items() {
    let (client, _dir, received) = serve_once(|s| {
        write(
            s,
            json_reply(
                "200 OK",
                r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:ab"}]"#,
            ),
        )
    })
    .await;
    let items = client.remove_image("busybox", true, false).await.unwrap();
    assert_eq!(items[0].untagged.as_deref(), Some("busybox:latest"));
    assert_eq!(items[1].deleted.as_deref(), Some("sha256:ab"));
    assert_eq!(
        received.await.unwrap().request_line(),
        "DELETE /v1.45/images/busybox?force=1 HTTP/1.1"
    );
}
