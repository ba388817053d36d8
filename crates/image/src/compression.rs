//! Layer compression: detects plain tar, gzip or zstd by magic bytes and
//! returns a reader of the uncompressed stream.

use std::io::{self, Cursor, Read};

use crate::error::{ImageError, IoContext};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";
const MAGIC_LEN: usize = 6;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn detect(magic: &[u8]) -> Result<Compression, ImageError> {
        if magic.starts_with(GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if magic.starts_with(ZSTD_MAGIC) {
            Ok(Compression::Zstd)
        } else if magic.starts_with(XZ_MAGIC) {
            Err(ImageError::invalid("unsupported layer compression: xz"))
        } else if magic.starts_with(BZIP2_MAGIC) {
            Err(ImageError::invalid("unsupported layer compression: bzip2"))
        } else {
            Ok(Compression::None)
        }
    }
}

/// Peeks at the first bytes of `raw` and returns its compression together with
/// a reader of the decompressed stream (the peeked bytes are not lost).
pub(crate) fn decompress<'a>(
    raw: &'a mut dyn Read,
) -> Result<(Compression, Box<dyn Read + 'a>), ImageError> {
    let mut magic = Vec::with_capacity(MAGIC_LEN);
    raw.take(MAGIC_LEN as u64)
        .read_to_end(&mut magic)
        .map_err(|e| ImageError::invalid(format!("reading layer: {e}")))?;
    let compression = Compression::detect(&magic)?;
    let whole = Cursor::new(magic).chain(raw);
    let reader: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(whole).ctx(|| "starting zstd decoder".into())?,
        ),
    };
    Ok((compression, reader))
}

/// Maps a failure to read the (decompressed) layer stream to a client error:
/// truncated or corrupt input is the caller's fault, not the store's.
pub(crate) fn bad_stream(err: io::Error) -> ImageError {
    ImageError::invalid(format!("invalid layer tar stream: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(data: &[u8]) -> (Compression, Vec<u8>) {
        let mut src: &[u8] = data;
        let (kind, mut reader) = decompress(&mut src).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        (kind, out)
    }

    #[test]
    fn plain_data_passes_through_including_short_input() {
        assert_eq!(roundtrip(b"ab"), (Compression::None, b"ab".to_vec()));
        assert_eq!(roundtrip(b""), (Compression::None, Vec::new()));
        assert_eq!(
            roundtrip(b"plain tar bytes"),
            (Compression::None, b"plain tar bytes".to_vec())
        );
    }

    #[test]
    fn gzip_and_zstd_are_detected_and_decoded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"payload").unwrap();
        assert_eq!(
            roundtrip(&gz.finish().unwrap()),
            (Compression::Gzip, b"payload".to_vec())
        );
        let zst = zstd::encode_all(&b"payload"[..], 1).unwrap();
        assert_eq!(roundtrip(&zst), (Compression::Zstd, b"payload".to_vec()));
    }

    #[test]
    fn xz_is_rejected_as_unsupported() {
        let mut src: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00, 1, 2];
        let err = decompress(&mut src).err().unwrap();
        assert_eq!(err.to_string(), "unsupported layer compression: xz");
    }
}
