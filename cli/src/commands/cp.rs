//! `berth cp`: files between a container and the local filesystem, with
//! docker's rules (its `cp` command and the copy helpers of its archive
//! package): a trailing `/` or `/.` asserts a directory (and `/.` copies
//! a directory's contents rather than the directory), a destination that
//! does not exist is created with the source's content under the
//! destination's name, a directory never replaces a file nor the reverse,
//! `-L` follows a final symlink of the source, `-a` keeps owners, and `-`
//! stands for a tar stream on stdin or stdout.
//!
//! Paths are handled as Go's `path/filepath` handles them, so that the
//! same arguments do the same thing as with docker.

use super::io_error_text;
use crate::format::human_size;
use crate::terminal;
use berth_api::files::PathStat;
use berth_client::{Client, CopyToOptions};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use tar::EntryType;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Handle;

/// How many symlinks a destination may be behind (docker's limit).
const MAX_DESTINATION_LINKS: usize = 10;
/// Buffer between the local tar and the upload.
const UPLOAD_BUFFER: usize = 256 << 10;
/// How much the local side of a copy reads or writes at a time.
const READ_BUFFER: usize = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH")]
    pub source: String,
    #[arg(value_name = "DEST_PATH")]
    pub destination: String,
}

/// `berth cp`.
pub async fn cp(client: &Client, args: CpArgs) -> anyhow::Result<()> {
    if args.source.is_empty() {
        anyhow::bail!("source can not be empty");
    }
    if args.destination.is_empty() {
        anyhow::bail!("destination can not be empty");
    }
    let quiet = args.quiet || !terminal::stdout_is_terminal();
    match (split_cp_arg(&args.source), split_cp_arg(&args.destination)) {
        ((Some(_), _), (Some(_), _)) => {
            anyhow::bail!("copying between containers is not supported")
        }
        ((Some(container), path), (None, dest)) => {
            from_container(client, container, path, dest, args.follow_link, quiet).await
        }
        ((None, source), (Some(container), path)) => {
            let options = CopyToOptions {
                copy_uid_gid: args.archive,
                allow_overwrite_dir_with_file: false,
            };
            to_container(
                client,
                source,
                container,
                path,
                args.follow_link,
                options,
                quiet,
            )
            .await
        }
        _ => anyhow::bail!("must specify at least one container source"),
    }
}

/// `CONTAINER:PATH` or a local path; a local path with a `:` must start
/// with `/` or `.` (docker's `splitCpArg`).
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => (Some(container), path),
        _ => (None, arg),
    }
}

async fn from_container(
    client: &Client,
    container: &str,
    source: &str,
    destination: &str,
    follow_link: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let destination = if destination == "-" {
        destination.to_string()
    } else {
        resolve_local_path(destination)?
    };
    validate_output_path(&destination)?;
    let mut source = source.to_string();
    let mut rebase_name = None;
    if follow_link {
        if let Ok(stat) = client.stat_container_path(container, &source).await {
            if stat.is_symlink() {
                let target = link_target_path(&source, &stat.link_target);
                let (resolved, rebase) = rebase_name_of(&source, &target);
                source = resolved;
                rebase_name = rebase;
            }
        }
    }
    let (stat, stream) = client.copy_from_container(container, &source).await?;
    if destination == "-" {
        super::files::copy_out(stream, tokio::io::stdout()).await?;
        return Ok(());
    }
    let source_info = CopyInfo {
        path: source,
        exists: true,
        is_dir: stat.is_dir(),
        rebase_name,
    };
    let handle = Handle::current();
    let target = destination.clone();
    let copied = tokio::task::spawn_blocking(move || {
        let mut reader = Counting {
            inner: io::BufReader::with_capacity(
                READ_BUFFER,
                BlockingReader {
                    handle,
                    inner: stream,
                },
            ),
            count: 0,
        };
        copy_to(&mut reader, &source_info, &target).map(|()| reader.count)
    })
    .await??;
    if !quiet {
        let size = if stat.is_dir() {
            copied
        } else {
            stat.size as u64
        };
        eprint!("{}", summary(size, copied, &destination));
    }
    Ok(())
}

async fn to_container(
    client: &Client,
    source: &str,
    container: &str,
    destination: &str,
    follow_link: bool,
    options: CopyToOptions,
    quiet: bool,
) -> anyhow::Result<()> {
    let mut dest_info = CopyInfo {
        path: destination.to_string(),
        ..CopyInfo::default()
    };
    if let Ok(mut stat) = client.stat_container_path(container, destination).await {
        let mut found = Ok(());
        if stat.is_symlink() {
            dest_info.path = link_target_path(destination, &stat.link_target);
            match client.stat_container_path(container, &dest_info.path).await {
                Ok(target) => stat = target,
                Err(e) => found = Err(e),
            }
        }
        if found.is_ok() {
            if let Err(reason) = validate_file_mode(&stat) {
                anyhow::bail!(
                    "destination \"{container}:{destination}\" must be a directory or a regular file: {reason}"
                );
            }
            dest_info.exists = true;
            dest_info.is_dir = stat.is_dir();
        }
    }
    if source == "-" {
        if !dest_info.is_dir {
            anyhow::bail!("destination \"{container}:{destination}\" must be a directory");
        }
        client
            .copy_to_container(container, &dest_info.path, tokio::io::stdin(), options)
            .await?;
        return Ok(());
    }
    let source_info = copy_info_source_path(&resolve_local_path(source)?, follow_link)?;
    let (dest_dir, rebase) = prepare_archive_copy(&source_info, &dest_info)?;
    let top_name = match rebase {
        Some((_, new)) => new,
        None => source_info
            .rebase_name
            .clone()
            .unwrap_or_else(|| split_path_dir_entry(&source_info.path).1),
    };
    let content_size = local_content_size(Path::new(&source_info.path));
    let (reader, writer) = tokio::io::duplex(UPLOAD_BUFFER);
    let handle = Handle::current();
    let source_path = source_info.path.clone();
    let tar = tokio::task::spawn_blocking(move || {
        let writer = BlockingWriter {
            handle,
            inner: writer,
        };
        write_local_tar(&source_path, &top_name, writer)
    });
    let (reader, counted) = CountingAsync::new(reader);
    let uploaded = client
        .copy_to_container(container, &dest_dir, reader, options)
        .await;
    tar.await??;
    uploaded?;
    if !quiet {
        let sent = counted.load(std::sync::atomic::Ordering::Relaxed);
        let size = content_size.unwrap_or(sent);
        eprint!(
            "{}",
            summary(size, sent, &format!("{container}:{}", dest_info.path))
        );
    }
    Ok(())
}

/// `Successfully copied 1.5kB to /dest`, with what went over the wire
/// when that differs.
fn summary(size: u64, transferred: u64, destination: &str) -> String {
    let (size, transferred) = (size as i64, transferred as i64);
    if size != transferred {
        format!(
            "Successfully copied {} (transferred {}) to {destination}\n",
            human_size(size),
            human_size(transferred)
        )
    } else {
        format!(
            "Successfully copied {} to {destination}\n",
            human_size(size)
        )
    }
}

/// A stat's link target as a path: a relative one is relative to the
/// link's directory.
fn link_target_path(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    join(&split_path_dir_entry(link).0, target)
}

/// docker's check of a copy's end: a directory or a regular file.
fn validate_file_mode(stat: &PathStat) -> Result<(), &'static str> {
    use berth_api::files::mode;
    if stat.mode & mode::DEVICE != 0 {
        return Err("got a device");
    }
    if stat.mode & mode::IRREGULAR != 0 {
        return Err("got an irregular file");
    }
    Ok(())
}

/// docker's `ValidateOutputPath`: the destination's directory must exist,
/// and the destination, if it exists, must be a directory or a regular
/// file.
fn validate_output_path(path: &str) -> anyhow::Result<()> {
    let parent = dir(&clean(path));
    if parent != "." && fs::metadata(&parent).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
        anyhow::bail!("invalid output path: directory {parent:?} does not exist");
    }
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::anyhow!("stat {path}: {}", io_error_text(&e))),
        Ok(meta) if meta.is_dir() || meta.is_file() => Ok(()),
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            let kind = meta.file_type();
            let reason = if kind.is_block_device() || kind.is_char_device() {
                "got a device"
            } else {
                "got an irregular file"
            };
            anyhow::bail!(
                "invalid output path: {path:?} must be a directory or a regular file: {reason}"
            )
        }
    }
}

/// What a copy knows about its source or destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    /// The name the source goes by in the archive, when resolving it
    /// changed its last element.
    rebase_name: Option<String>,
}

/// The local source of a copy: directories before the last element
/// resolved (with `-L` the last one too), which must exist.
fn copy_info_source_path(path: &str, follow_link: bool) -> anyhow::Result<CopyInfo> {
    let (resolved, rebase_name) = resolve_host_source_path(path, follow_link)?;
    let meta = fs::symlink_metadata(&resolved)
        .map_err(|e| anyhow::anyhow!("lstat {resolved}: {}", io_error_text(&e)))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name,
    })
}

fn resolve_host_source_path(
    path: &str,
    follow_link: bool,
) -> anyhow::Result<(String, Option<String>)> {
    let eval = |p: &str| {
        fs::canonicalize(p)
            .map(|r| r.to_string_lossy().into_owned())
            .map_err(|e| anyhow::anyhow!("lstat {p}: {}", io_error_text(&e)))
    };
    if follow_link {
        let resolved = eval(path)?;
        return Ok(rebase_name_of(path, &resolved));
    }
    let split = path.rfind('/').map_or(0, |i| i + 1);
    let (dir_path, base_path) = path.split_at(split);
    let resolved_dir = eval(if dir_path.is_empty() { "." } else { dir_path })?;
    let resolved = format!("{}/{base_path}", resolved_dir.trim_end_matches('/'));
    let rebase = (path.ends_with('/') && base(path) != base(&resolved)).then(|| base(path));
    Ok((resolved, rebase))
}

/// docker's `GetRebaseName`: `resolved` keeps the trailing `/` or `/.`
/// of `path`, and the name to use in the archive if its last element
/// differs.
fn rebase_name_of(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if path.ends_with('/') && !resolved.ends_with('/') {
        resolved.push('/');
    }
    let rebase = (base(path) != base(&resolved)).then(|| base(path));
    (resolved, rebase)
}

/// The local destination of a copy: symlinks of the last element
/// followed; a missing destination needs an existing directory to go in.
fn copy_info_destination_path(path: &str) -> anyhow::Result<CopyInfo> {
    let mut path = path.to_string();
    let mut meta = fs::symlink_metadata(&path);
    let mut links = 0;
    while let Ok(m) = &meta {
        if !m.file_type().is_symlink() {
            return Ok(CopyInfo {
                path,
                exists: true,
                is_dir: m.is_dir(),
                rebase_name: None,
            });
        }
        links += 1;
        if links > MAX_DESTINATION_LINKS {
            anyhow::bail!("too many symlinks in {path}");
        }
        let target = fs::read_link(&path)
            .map_err(|e| anyhow::anyhow!("readlink {path}: {}", io_error_text(&e)))?;
        path = link_target_path(&path, &target.to_string_lossy());
        meta = fs::symlink_metadata(&path);
    }
    match meta {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = split_path_dir_entry(&path).0;
            let parent_meta = fs::metadata(&parent)
                .map_err(|e| anyhow::anyhow!("stat {parent}: {}", io_error_text(&e)))?;
            if !parent_meta.is_dir() {
                anyhow::bail!("not a directory");
            }
            Ok(CopyInfo {
                path,
                ..CopyInfo::default()
            })
        }
        Err(e) => Err(anyhow::anyhow!("lstat {path}: {}", io_error_text(&e))),
        Ok(_) => unreachable!("the loop returns for anything but a symlink"),
    }
}

/// docker's `PrepareArchiveCopy`: the directory the archive of `source`
/// is extracted into for it to land at `destination`, and the renaming of
/// its top entry that takes (old name, new name).
fn prepare_archive_copy(
    source: &CopyInfo,
    destination: &CopyInfo,
) -> anyhow::Result<(String, Option<(String, String)>)> {
    let (dest_dir, dest_base) = split_path_dir_entry(&destination.path);
    let source_base = source
        .rebase_name
        .clone()
        .unwrap_or_else(|| split_path_dir_entry(&source.path).1);
    let rebase = Some((source_base, dest_base));
    if destination.exists && destination.is_dir {
        return Ok((destination.path.clone(), None));
    }
    if destination.exists && source.is_dir {
        anyhow::bail!("cannot copy directory");
    }
    if !destination.exists && !source.is_dir && asserts_directory(&destination.path) {
        anyhow::bail!("no such directory");
    }
    Ok((dest_dir, rebase))
}

/// Extracts an archive of `source` so that it lands at `destination`
/// (docker's `CopyTo`).
fn copy_to(archive: &mut dyn Read, source: &CopyInfo, destination: &str) -> anyhow::Result<()> {
    let dest_info = copy_info_destination_path(destination)?;
    let (dest_dir, rebase) = prepare_archive_copy(source, &dest_info)?;
    // The daemon names the top entry after the path asked for; `-L` and
    // the destination may want another name.
    let archived = split_path_dir_entry(&source.path).1;
    let rebase = match (rebase, &source.rebase_name) {
        (Some((_, new)), _) => Some(Rebaser::new(&archived, &new)),
        (None, Some(name)) => Some(Rebaser::new(&archived, name)),
        (None, None) => None,
    };
    extract(archive, Path::new(&dest_dir), rebase.as_ref())
}

/// docker's renaming of archive entries: `old` at the start of a name
/// (the whole name or up to a `/`) becomes `new`; an empty `old` (the
/// root) puts every name under `new`.
struct Rebaser {
    old: String,
    new: String,
}

impl Rebaser {
    fn new(old: &str, new: &str) -> Rebaser {
        Rebaser {
            old: old.trim_end_matches('/').to_string(),
            new: new.trim_end_matches('/').to_string(),
        }
    }

    fn apply(&self, name: &str) -> String {
        if self.old.is_empty() {
            let name = name.trim_start_matches('/');
            return if self.new.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.new)
            };
        }
        match name.strip_prefix(&self.old) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", self.new),
            _ => name.to_string(),
        }
    }
}

/// Unpacks an archive into `dir` as docker's client does: names cleaned
/// and kept inside `dir`, a directory never replaced by a non-directory
/// nor the reverse, modes and mtimes kept, owners not.
fn extract(archive: &mut dyn Read, dir: &Path, rebase: Option<&Rebaser>) -> anyhow::Result<()> {
    let canonical = fs::canonicalize(dir)
        .map_err(|e| anyhow::anyhow!("stat {}: {}", dir.display(), io_error_text(&e)))?;
    let mut tar = tar::Archive::new(archive);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = rebase.map_or_else(|| raw.clone(), |r| r.apply(&raw));
        let inside = |name: &str| {
            inside_relative(name).ok_or_else(|| {
                anyhow::anyhow!("{name:?} is outside of {:?}", dir.display().to_string())
            })
        };
        let rel = inside(&name)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
            if !fs::canonicalize(parent)?.starts_with(&canonical) {
                anyhow::bail!("{name:?} is outside of {:?}", dir.display().to_string());
            }
        }
        let kind = entry.header().entry_type();
        if let Ok(existing) = fs::symlink_metadata(&target) {
            let shown = (target.display().to_string(), dir.display().to_string());
            match (existing.is_dir(), kind == EntryType::Directory) {
                (true, false) => anyhow::bail!(
                    "cannot overwrite directory {:?} with non-directory {:?}",
                    shown.0,
                    shown.1
                ),
                (false, true) => anyhow::bail!(
                    "cannot overwrite non-directory {:?} with directory {:?}",
                    shown.0,
                    shown.1
                ),
                (false, false) => fs::remove_file(&target)?,
                (true, true) => {}
            }
        }
        if kind == EntryType::Link {
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            let link = rebase.map_or_else(|| link.clone(), |r| r.apply(&link));
            fs::hard_link(dir.join(inside(&link)?), &target)?;
        } else {
            entry.unpack(&target)?;
        }
    }
    Ok(())
}

/// A name of an archive entry as a path relative to where it is
/// extracted: Go's `Clean`, a leading `/` dropped; `None` if it climbs out.
fn inside_relative(name: &str) -> Option<PathBuf> {
    let rooted = name.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !rooted {
                    return None;
                }
            }
            part => parts.push(part),
        }
    }
    Some(parts.iter().collect())
}

/// Writes a tar of the local `source` (a file, a symlink, or a directory
/// with everything below it, symlinks never followed) whose top entry is
/// named `top`.
fn write_local_tar(source: &str, top: &str, out: impl Write) -> anyhow::Result<()> {
    let (dir, base) = split_path_dir_entry(source);
    let root = Path::new(&dir).join(&base);
    let mut tar = tar::Builder::new(io::BufWriter::with_capacity(READ_BUFFER, out));
    tar.follow_symlinks(false);
    add_local(&mut tar, &root, top)?;
    tar.into_inner()?.flush()?;
    Ok(())
}

fn add_local(tar: &mut tar::Builder<impl Write>, path: &Path, name: &str) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(path)
        .map_err(|e| anyhow::anyhow!("lstat {}: {}", path.display(), io_error_text(&e)))?;
    {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            return Ok(());
        }
    }
    tar.append_path_with_name(path, name)
        .map_err(|e| anyhow::anyhow!("archiving {}: {}", path.display(), io_error_text(&e)))?;
    if meta.is_dir() {
        let mut children: Vec<_> = fs::read_dir(path)
            .map_err(|e| anyhow::anyhow!("open {}: {}", path.display(), io_error_text(&e)))?
            .collect::<io::Result<Vec<_>>>()?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let child_name = format!("{name}/{}", child.file_name().to_string_lossy());
            add_local(tar, &child.path(), &child_name)?;
        }
    }
    Ok(())
}

/// What a local source holds in regular files (docker reports this as
/// the size copied); `None` if it cannot be read.
fn local_content_size(path: &Path) -> Option<u64> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return Some(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for child in fs::read_dir(path).ok()? {
        total += local_content_size(&child.ok()?.path())?;
    }
    Some(total)
}

/// Reads an async stream from a blocking thread.
struct BlockingReader<R> {
    handle: Handle,
    inner: R,
}

impl<R: AsyncRead + Unpin> Read for BlockingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handle.block_on(self.inner.read(buf))
    }
}

/// Writes an async stream from a blocking thread.
struct BlockingWriter<W> {
    handle: Handle,
    inner: W,
}

impl<W: AsyncWrite + Unpin> Write for BlockingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.handle.block_on(self.inner.write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.handle.block_on(self.inner.flush())
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Counts the bytes an upload reads, for the summary.
struct CountingAsync<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R> CountingAsync<R> {
    fn new(
        inner: R,
    ) -> (
        CountingAsync<R>,
        std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) {
        let count = std::sync::Arc::default();
        let counting = CountingAsync {
            inner,
            count: std::sync::Arc::clone(&count),
        };
        (counting, count)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CountingAsync<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.count
            .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
        polled
    }
}

/// An absolute local path, its trailing `/` or `/.` kept (docker's
/// `resolveLocalPath`).
fn resolve_local_path(path: &str) -> anyhow::Result<String> {
    let absolute = if path.starts_with('/') {
        clean(path)
    } else {
        let cwd = std::env::current_dir()?;
        clean(&format!("{}/{path}", cwd.display()))
    };
    Ok(preserve_trailing(&absolute, path))
}

/// Go's `filepath.Clean`.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`.
fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Dir`.
fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Join` of two elements.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => clean(b),
        (_, true) => clean(a),
        _ => clean(&format!("{a}/{b}")),
    }
}

fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

fn asserts_directory(path: &str) -> bool {
    path.ends_with('/') || specifies_current_dir(path)
}

/// docker's `PreserveTrailingDotOrSeparator`.
fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut out = cleaned.to_string();
    if !specifies_current_dir(&out) && specifies_current_dir(original) {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push('.');
    }
    if !out.ends_with('/') && original.ends_with('/') {
        out.push('/');
    }
    out
}

/// docker's `SplitPathDirEntry`: the directory and the last element, a
/// final `.` kept.
fn split_path_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_into_container_and_path_as_docker_splits_them() {
        assert_eq!(split_cp_arg("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_cp_arg("/abs:x"), (None, "/abs:x"));
        assert_eq!(split_cp_arg("./file:name"), (None, "./file:name"));
        assert_eq!(split_cp_arg("local"), (None, "local"));
        assert_eq!(split_cp_arg("web:"), (Some("web"), ""));
    }

    #[test]
    fn paths_behave_like_go() {
        assert_eq!(clean("/a/../../b//c/."), "/b/c");
        assert_eq!(clean("a/../.."), "..");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("/a"), "/");
        assert_eq!(join("/a", "../b"), "/b");
        assert_eq!(preserve_trailing("/a/b", "b/."), "/a/b/.");
        assert_eq!(preserve_trailing("/a/b", "b/"), "/a/b/");
        assert_eq!(split_path_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_path_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert!(asserts_directory("/x/") && asserts_directory("/x/."));
        assert_eq!(
            rebase_name_of("/link/", "/real"),
            ("/real/".to_string(), Some("link".to_string()))
        );
        assert_eq!(
            rebase_name_of("/same", "/x/same"),
            ("/x/same".to_string(), None)
        );
    }

    #[test]
    fn names_are_rebased_at_a_whole_first_element() {
        let r = Rebaser::new("passwd", "pw");
        assert_eq!(r.apply("passwd"), "pw");
        assert_eq!(r.apply("passwd/x"), "pw/x");
        assert_eq!(r.apply("passwdx"), "passwdx");
        let root = Rebaser::new("/", "out");
        assert_eq!(root.apply("./bin/"), "out/./bin/");
        assert_eq!(
            inside_relative("out/./bin/"),
            Some(PathBuf::from("out/bin"))
        );
        assert_eq!(inside_relative("/../x"), Some(PathBuf::from("x")));
        assert_eq!(inside_relative("../x"), None);
        assert_eq!(inside_relative("a/../../x"), None);
    }

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.to_string(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    #[test]
    fn the_destination_decides_where_and_under_which_name() {
        let file = info("/src/f", true, false);
        let dir = info("/src/d", true, true);
        let p = |s: &CopyInfo, d: &CopyInfo| prepare_archive_copy(s, d).map_err(|e| e.to_string());
        assert_eq!(
            p(&file, &info("/dst", true, true)),
            Ok(("/dst".into(), None))
        );
        assert_eq!(
            p(&file, &info("/dst/g", true, false)),
            Ok(("/dst".into(), Some(("f".into(), "g".into()))))
        );
        assert_eq!(
            p(&dir, &info("/dst/g", true, false)),
            Err("cannot copy directory".into())
        );
        assert_eq!(
            p(&dir, &info("/dst/new", false, false)),
            Ok(("/dst".into(), Some(("d".into(), "new".into()))))
        );
        assert_eq!(
            p(&file, &info("/dst/new/", false, false)),
            Err("no such directory".into())
        );
        assert_eq!(
            p(
                &info("/src/d/.", true, true),
                &info("/dst/new", false, false)
            ),
            Ok(("/dst".into(), Some((".".into(), "new".into()))))
        );
    }

    #[test]
    fn a_local_tree_goes_out_and_comes_back_under_the_asked_names() {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/file"), b"data").unwrap();
        std::os::unix::fs::symlink("sub/file", src.join("link")).unwrap();
        let mut tar = Vec::new();
        write_local_tar(src.to_str().unwrap(), "copy", &mut tar).unwrap();
        let dest = work.path().join("dest");
        fs::create_dir(&dest).unwrap();
        let source = info(src.to_str().unwrap(), true, true);
        copy_to(
            &mut &tar[..],
            &CopyInfo {
                path: "/x/copy".into(),
                ..source.clone()
            },
            dest.to_str().unwrap(),
        )
        .unwrap();
        assert_eq!(fs::read(dest.join("copy/sub/file")).unwrap(), b"data");
        assert!(fs::symlink_metadata(dest.join("copy/link"))
            .unwrap()
            .file_type()
            .is_symlink());
        // To a new name: the top entry is renamed.
        let renamed = dest.join("renamed");
        copy_to(
            &mut &tar[..],
            &CopyInfo {
                path: "/x/copy".into(),
                ..source.clone()
            },
            renamed.to_str().unwrap(),
        )
        .unwrap();
        assert_eq!(fs::read(renamed.join("sub/file")).unwrap(), b"data");
        // A file over a directory is refused.
        let mut file_tar = Vec::new();
        write_local_tar(src.join("sub/file").to_str().unwrap(), "sub", &mut file_tar).unwrap();
        let err = extract(&mut &file_tar[..], &dest.join("copy"), None).unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
        // A name that climbs out is refused.
        let mut hostile = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_entry_type(EntryType::Regular);
        let name = b"../escaped";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        hostile.append(&header, &b"x"[..]).unwrap();
        let hostile = hostile.into_inner().unwrap();
        let err = extract(&mut &hostile[..], &dest, None).unwrap_err();
        assert!(err.to_string().contains("is outside of"), "{err}");
        assert!(!work.path().join("escaped").exists());
    }
}
