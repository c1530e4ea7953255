//! Reading a file the configuration names (errorfiles, certificates, CA bundles) without
//! letting it hang or flood validation: opened with `O_NONBLOCK` (a FIFO cannot block),
//! checked to be a regular file on the open descriptor (a symlink to `/dev/zero` is
//! refused too), and read up to a size limit that also holds if the file grows after the
//! `fstat`. Each caller words the errors for its own kind of file.

use std::fs::{File, FileType};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// `open` failed.
    Open(io::Error),
    /// `fstat` failed.
    Stat(io::Error),
    /// Not a regular file.
    NotRegular(FileType),
    /// Larger than the limit (its size, or at least limit + 1 once read).
    TooLarge(u64),
    /// `read` failed.
    Read(io::Error),
}

/// Reads the regular file at `path`, at most `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Open)?;
    let meta = file.metadata().map_err(ReadError::Stat)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(meta.file_type()));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Read)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What a file that is not a regular one is, for error texts.
pub(crate) fn kind(t: &FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}
