//! Docker's multiplexed stdio framing, used by logs and attach when the
//! container has no TTY.
//!
//! Each frame is an 8-byte header — the stream (0 stdin, 1 stdout, 2 stderr,
//! 3 a daemon-side error), three zero bytes, and the big-endian `u32` payload
//! length — followed by the payload. [`Demuxer`] is an incremental decoder
//! that copes with headers and payloads split across reads;
//! [`copy_demuxed`] drives it over an async reader.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const HEADER_LEN: usize = 8;
const READ_CHUNK: usize = 256 * 1024;

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin,
    Stdout,
    Stderr,
    /// An error the daemon reports in-band; its payload is the message.
    System,
}

impl StreamKind {
    fn from_byte(byte: u8) -> Option<StreamKind> {
        match byte {
            0 => Some(StreamKind::Stdin),
            1 => Some(StreamKind::Stdout),
            2 => Some(StreamKind::Stderr),
            3 => Some(StreamKind::System),
            _ => None,
        }
    }
}

/// Incremental frame decoder. Feed it whatever a read returned; it hands back
/// payload pieces tagged with their stream as soon as they arrive, keeping a
/// partial header between calls.
#[derive(Debug, Clone)]
pub struct Demuxer {
    header: [u8; HEADER_LEN],
    header_len: usize,
    kind: StreamKind,
    remaining: usize,
}

impl Default for Demuxer {
    fn default() -> Self {
        Demuxer::new()
    }
}

impl Demuxer {
    pub fn new() -> Demuxer {
        Demuxer {
            header: [0; HEADER_LEN],
            header_len: 0,
            kind: StreamKind::Stdout,
            remaining: 0,
        }
    }

    /// Takes the next payload piece from the front of `input`, advancing it.
    /// Returns `None` once `input` is used up (a partial header is kept for
    /// the next call); fails on a header naming an unknown stream.
    pub fn next_chunk<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> io::Result<Option<(StreamKind, &'a [u8])>> {
        loop {
            if self.remaining > 0 {
                if input.is_empty() {
                    return Ok(None);
                }
                let n = self.remaining.min(input.len());
                let (payload, rest) = input.split_at(n);
                *input = rest;
                self.remaining -= n;
                return Ok(Some((self.kind, payload)));
            }
            let need = HEADER_LEN - self.header_len;
            let n = need.min(input.len());
            if n == 0 {
                return Ok(None);
            }
            self.header[self.header_len..self.header_len + n].copy_from_slice(&input[..n]);
            self.header_len += n;
            *input = &input[n..];
            if self.header_len < HEADER_LEN {
                return Ok(None);
            }
            self.header_len = 0;
            self.kind = StreamKind::from_byte(self.header[0]).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("Unrecognized input header: {}", self.header[0]),
                )
            })?;
            let len = u32::from_be_bytes([
                self.header[4],
                self.header[5],
                self.header[6],
                self.header[7],
            ]);
            self.remaining = len as usize;
        }
    }

    /// True between frames, when the last payload piece was a frame's end.
    pub fn at_frame_boundary(&self) -> bool {
        self.remaining == 0 && self.header_len == 0
    }
}

/// Copies a multiplexed stream to `stdout` and `stderr` (stdin frames go to
/// `stdout`, as Docker's `stdcopy` does), flushing after each read so output
/// shows up live. Ends cleanly at EOF, even mid-frame; an in-band daemon
/// error frame ends the copy with that message.
pub async fn copy_demuxed<R, O, E>(mut reader: R, stdout: &mut O, stderr: &mut E) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
    E: AsyncWrite + Unpin,
{
    // Frames are often one line each: buffer the writes and flush once per
    // read, not once per frame (tokio's stdout costs a thread hop per write).
    let mut stdout = tokio::io::BufWriter::with_capacity(READ_CHUNK, stdout);
    let mut stderr = tokio::io::BufWriter::with_capacity(READ_CHUNK, stderr);
    let mut demuxer = Demuxer::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut system = Vec::new();
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let mut input = &buf[..n];
        let (mut wrote_out, mut wrote_err) = (false, false);
        while let Some((kind, payload)) = demuxer.next_chunk(&mut input)? {
            match kind {
                StreamKind::Stdin | StreamKind::Stdout => {
                    stdout.write_all(payload).await?;
                    wrote_out = true;
                }
                StreamKind::Stderr => {
                    stderr.write_all(payload).await?;
                    wrote_err = true;
                }
                StreamKind::System => {
                    system.extend_from_slice(payload);
                    if demuxer.at_frame_boundary() {
                        return Err(io::Error::other(
                            String::from_utf8_lossy(&system).into_owned(),
                        ));
                    }
                }
            }
        }
        if wrote_out {
            stdout.flush().await?;
        }
        if wrote_err {
            stderr.flush().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 0, 0, 0];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A reader that returns its data in fixed-size pieces.
    struct Pieces {
        data: Vec<u8>,
        pos: usize,
        size: usize,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.pos + self.size)
                .min(self.data.len())
                .min(self.pos + buf.remaining());
            buf.put_slice(&self.data[self.pos..end]);
            self.pos = end;
            Poll::Ready(Ok(()))
        }
    }

    fn stream() -> Vec<u8> {
        let mut data = frame(1, b"hello ");
        data.extend(frame(2, b"oops\n"));
        data.extend(frame(1, b"world\n"));
        data.extend(frame(1, b""));
        data.extend(frame(0, b"echo\n"));
        data
    }

    #[test]
    fn demuxer_handles_every_split_point() {
        let data = stream();
        for split in 0..=data.len() {
            let mut demuxer = Demuxer::new();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            for part in [&data[..split], &data[split..]] {
                let mut input = part;
                while let Some((kind, payload)) = demuxer.next_chunk(&mut input).unwrap() {
                    match kind {
                        StreamKind::Stderr => err.extend_from_slice(payload),
                        _ => out.extend_from_slice(payload),
                    }
                }
            }
            assert_eq!(out, b"hello world\necho\n", "split at {split}");
            assert_eq!(err, b"oops\n", "split at {split}");
            assert!(demuxer.at_frame_boundary());
        }
    }

    #[tokio::test]
    async fn copy_routes_stdout_and_stderr_one_byte_at_a_time() {
        for size in [1, 3, 8, 9, 1024] {
            let reader = Pieces {
                data: stream(),
                pos: 0,
                size,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            copy_demuxed(reader, &mut out, &mut err).await.unwrap();
            assert_eq!(out, b"hello world\necho\n");
            assert_eq!(err, b"oops\n");
        }
    }

    #[tokio::test]
    async fn large_frames_are_passed_through_in_pieces() {
        let payload = vec![b'x'; 100_000];
        let reader = Pieces {
            data: frame(2, &payload),
            pos: 0,
            size: 4096,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        copy_demuxed(reader, &mut out, &mut err).await.unwrap();
        assert!(out.is_empty());
        assert_eq!(err, payload);
    }

    #[tokio::test]
    async fn unknown_stream_bytes_and_system_frames_are_errors() {
        let reader = Pieces {
            data: frame(7, b"x"),
            pos: 0,
            size: 64,
        };
        let err = copy_demuxed(reader, &mut Vec::new(), &mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "Unrecognized input header: 7");

        let mut data = frame(1, b"ok\n");
        data.extend(frame(3, b"container died"));
        let reader = Pieces {
            data,
            pos: 0,
            size: 2,
        };
        let mut out = Vec::new();
        let err = copy_demuxed(reader, &mut out, &mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "container died");
        assert_eq!(out, b"ok\n");
    }

    #[tokio::test]
    async fn a_truncated_stream_ends_cleanly() {
        let cut_header = [frame(1, b"whole\n"), vec![2, 0, 0]].concat();
        let cut_payload = [frame(1, b"whole\n"), frame(1, b"partial")[..10].to_vec()].concat();
        for (data, want) in [(cut_header, &b"whole\n"[..]), (cut_payload, b"whole\npa")] {
            let reader = Pieces {
                data,
                pos: 0,
                size: 5,
            };
            let mut out = Vec::new();
            copy_demuxed(reader, &mut out, &mut Vec::new())
                .await
                .unwrap();
            assert_eq!(out, want);
        }
    }
}
