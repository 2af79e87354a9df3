//! Just enough of the ZIP format (PKWARE APPNOTE 6.3, no ZIP64) to add one file to a
//! Lambda zip that `cargo lambda build` made, list its entries and read one back: the
//! RDS CA bundle the database functions need at `/var/task/` ([`super::assets`]).
//!
//! [`add_entry`] keeps every existing entry byte for byte (local headers and data up to
//! the central directory, then the central directory itself) and appends one deflated
//! entry, its central directory record and a new end record. The new entry carries a
//! fixed timestamp (1980-01-01 00:00), so the same zip and file always give the same
//! bytes, and the same content-hash key.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::DeflateEncoder;

/// What is wrong with a zip, or with adding to it.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The zip.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a ZIP archive this module reads.
    #[error("{path} is not a zip this tool can read: {reason}")]
    Malformed {
        /// The zip.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The zip already holds an entry of that name with other content.
    #[error("{path} already holds a different {name}; delete the zip and build it again")]
    Conflict {
        /// The zip.
        path: String,
        /// The entry.
        name: String,
    },
}

/// One entry of a zip's central directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its path inside the zip.
    pub name: String,
    /// 0 stored, 8 deflated.
    pub method: u16,
    /// CRC-32 of the uncompressed content.
    pub crc32: u32,
    /// Compressed size in bytes.
    pub compressed_size: u32,
    /// Uncompressed size in bytes.
    pub size: u32,
    /// Unix mode bits (the high half of the external attributes; 0 when not made on Unix).
    pub unix_mode: u32,
    /// Where its local header starts.
    local_header_offset: u32,
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END_LEN: usize = 22;
/// DOS date 1980-01-01 (year 0 from 1980, month 1, day 1), time 00:00:00.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Made by Unix (3), spec version 2.0.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// Deflate needs spec version 2.0.
const VERSION_NEEDED: u16 = 20;
const DEFLATED: u16 = 8;
/// A regular file, rw-r--r--.
const FILE_MODE: u32 = 0o100_644;

/// The layout of an archive: its entries and where its central directory is.
struct Layout {
    entries: Vec<Entry>,
    central_offset: usize,
    central_size: usize,
    comment: Vec<u8>,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Layout, ZipError> {
    let malformed = |reason: &str| ZipError::Malformed {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    if bytes.len() < END_LEN {
        return Err(malformed("shorter than an end-of-central-directory record"));
    }
    // The end record is the last 22 bytes plus a comment of at most 65,535 bytes.
    let lowest = bytes.len().saturating_sub(END_LEN + usize::from(u16::MAX));
    let end = (lowest..=bytes.len() - END_LEN)
        .rev()
        .find(|&at| {
            u32_at(bytes, at) == Some(END_OF_CENTRAL_DIRECTORY)
                && u16_at(bytes, at + 20).map(usize::from) == Some(bytes.len() - at - END_LEN)
        })
        .ok_or_else(|| malformed("no end-of-central-directory record"))?;
    if end >= 20 && u32_at(bytes, end - 20) == Some(ZIP64_LOCATOR) {
        return Err(malformed("ZIP64 archives are not supported"));
    }
    let field =
        |at: usize| u16_at(bytes, end + at).ok_or_else(|| malformed("truncated end record"));
    let (disk, central_disk) = (field(4)?, field(6)?);
    let (on_disk, total) = (field(8)?, field(10)?);
    if disk != 0 || central_disk != 0 || on_disk != total {
        return Err(malformed("multi-disk archives are not supported"));
    }
    let central_size = u32_at(bytes, end + 12).ok_or_else(|| malformed("truncated end record"))?;
    let central_offset =
        u32_at(bytes, end + 16).ok_or_else(|| malformed("truncated end record"))?;
    if total == u16::MAX || central_size == u32::MAX || central_offset == u32::MAX {
        return Err(malformed("ZIP64 archives are not supported"));
    }
    let (central_offset, central_size) = (central_offset as usize, central_size as usize);
    if central_offset + central_size != end {
        return Err(malformed(
            "the central directory does not end where the end record starts",
        ));
    }
    let mut entries = Vec::with_capacity(usize::from(total));
    let mut at = central_offset;
    for _ in 0..total {
        let truncated = || malformed("truncated central directory");
        if u32_at(bytes, at) != Some(CENTRAL_HEADER) {
            return Err(malformed("bad central directory record signature"));
        }
        let name_len = usize::from(u16_at(bytes, at + 28).ok_or_else(truncated)?);
        let extra_len = usize::from(u16_at(bytes, at + 30).ok_or_else(truncated)?);
        let comment_len = usize::from(u16_at(bytes, at + 32).ok_or_else(truncated)?);
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(truncated)?;
        let entry = Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: u16_at(bytes, at + 10).ok_or_else(truncated)?,
            crc32: u32_at(bytes, at + 16).ok_or_else(truncated)?,
            compressed_size: u32_at(bytes, at + 20).ok_or_else(truncated)?,
            size: u32_at(bytes, at + 24).ok_or_else(truncated)?,
            unix_mode: u32_at(bytes, at + 38).ok_or_else(truncated)? >> 16,
            local_header_offset: u32_at(bytes, at + 42).ok_or_else(truncated)?,
        };
        if entry.local_header_offset as usize >= central_offset {
            return Err(malformed("an entry starts inside the central directory"));
        }
        entries.push(entry);
        at += 46 + name_len + extra_len + comment_len;
    }
    if at != end {
        return Err(malformed("the central directory has trailing bytes"));
    }
    Ok(Layout {
        entries,
        central_offset,
        central_size,
        comment: bytes[end + END_LEN..].to_vec(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ZipError> {
    std::fs::read(path).map_err(|source| ZipError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The entries of the zip at `path`, in central directory order.
pub fn entries(path: &Path) -> Result<Vec<Entry>, ZipError> {
    Ok(parse(path, &read(path)?)?.entries)
}

/// The uncompressed content of entry `name` (stored or deflated), checked against its
/// CRC-32; `None` when the zip has no such entry.
pub fn read_entry(path: &Path, name: &str) -> Result<Option<Vec<u8>>, ZipError> {
    let bytes = read(path)?;
    let layout = parse(path, &bytes)?;
    let Some(entry) = layout.entries.iter().find(|e| e.name == name) else {
        return Ok(None);
    };
    let malformed = |reason: &str| ZipError::Malformed {
        path: path.display().to_string(),
        reason: format!("{name}: {reason}"),
    };
    let at = entry.local_header_offset as usize;
    if u32_at(&bytes, at) != Some(LOCAL_HEADER) {
        return Err(malformed("bad local header signature"));
    }
    let name_len = usize::from(u16_at(&bytes, at + 26).ok_or_else(|| malformed("truncated"))?);
    let extra_len = usize::from(u16_at(&bytes, at + 28).ok_or_else(|| malformed("truncated"))?);
    let start = at + 30 + name_len + extra_len;
    let data = bytes
        .get(start..start + entry.compressed_size as usize)
        .ok_or_else(|| malformed("data runs past the end"))?;
    let content = match entry.method {
        0 => data.to_vec(),
        DEFLATED => {
            let mut out = Vec::with_capacity(entry.size as usize);
            let mut decoder = flate2::write::DeflateDecoder::new(&mut out);
            decoder
                .write_all(data)
                .and_then(|()| decoder.finish().map(drop))
                .map_err(|e| malformed(&format!("cannot inflate: {e}")))?;
            out
        }
        other => {
            return Err(malformed(&format!(
                "compression method {other} is not supported"
            )));
        }
    };
    if content.len() != entry.size as usize || crc32(&content) != entry.crc32 {
        return Err(malformed(
            "size or CRC-32 does not match the central directory",
        ));
    }
    Ok(Some(content))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = flate2::Crc::new();
    hasher.update(bytes);
    hasher.sum()
}

/// Adds `contents` to the zip at `path` as the regular file `name` (mode 0644, deflated),
/// keeping every entry already there. Returns `false`, leaving the file untouched, when
/// the zip already holds exactly that content under that name; refuses with
/// [`ZipError::Conflict`] when it holds other content under it. The zip is rewritten
/// through a temporary file in the same directory and renamed over the original, so a
/// failure leaves the original as it was.
pub fn add_entry(path: &Path, name: &str, contents: &[u8]) -> Result<bool, ZipError> {
    let bytes = read(path)?;
    let layout = parse(path, &bytes)?;
    let crc = crc32(contents);
    let too_large = || ZipError::Malformed {
        path: path.display().to_string(),
        reason: "the result would need ZIP64".to_owned(),
    };
    if let Some(existing) = layout.entries.iter().find(|e| e.name == name) {
        if existing.crc32 == crc && existing.size as usize == contents.len() {
            return Ok(false);
        }
        return Err(ZipError::Conflict {
            path: path.display().to_string(),
            name: name.to_owned(),
        });
    }
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    let compressed = encoder
        .write_all(contents)
        .and_then(|()| encoder.finish())
        .map_err(|source| ZipError::Io {
            path: path.display().to_string(),
            source,
        })?;
    let name_len = u16::try_from(name.len()).map_err(|_| too_large())?;
    let size = u32::try_from(contents.len()).map_err(|_| too_large())?;
    let compressed_size = u32::try_from(compressed.len()).map_err(|_| too_large())?;
    let local_offset = u32::try_from(layout.central_offset).map_err(|_| too_large())?;
    let count = u16::try_from(layout.entries.len() + 1)
        .ok()
        .filter(|&n| n < u16::MAX)
        .ok_or_else(too_large)?;

    let mut out = Vec::with_capacity(bytes.len() + compressed.len() + 2 * name.len() + 128);
    out.extend_from_slice(&bytes[..layout.central_offset]);
    // Local file header.
    out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
    for field in [VERSION_NEEDED, 0, DEFLATED, DOS_TIME, DOS_DATE] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    for field in [crc, compressed_size, size] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&compressed);
    // The central directory: the old records as they were, then the new one.
    let central_offset = out.len();
    out.extend_from_slice(
        &bytes[layout.central_offset..layout.central_offset + layout.central_size],
    );
    out.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
    for field in [
        VERSION_MADE_BY,
        VERSION_NEEDED,
        0,
        DEFLATED,
        DOS_TIME,
        DOS_DATE,
    ] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    for field in [crc, compressed_size, size] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    // name, extra and comment lengths, disk, internal attributes
    for field in [name_len, 0, 0, 0, 0] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&(FILE_MODE << 16).to_le_bytes());
    out.extend_from_slice(&local_offset.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let central_size = u32::try_from(out.len() - central_offset).map_err(|_| too_large())?;
    let central_offset = u32::try_from(central_offset).map_err(|_| too_large())?;
    // End of central directory, with the original archive comment.
    out.extend_from_slice(&END_OF_CENTRAL_DIRECTORY.to_le_bytes());
    for field in [0u16, 0, count, count] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&(layout.comment.len() as u16).to_le_bytes());
    out.extend_from_slice(&layout.comment);

    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let io = |source| ZipError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&temporary, &out).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io(e)
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn python(script: &str, path: &Path) -> String {
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .output()
            .expect("python3 (a prerequisite of scripts/test)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn stored_entries_and_the_archive_comment_survive_an_added_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        python(
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED)\n\
             t = (2020, 5, 6, 7, 8, 10)\n\
             z.writestr(zipfile.ZipInfo('bootstrap', t), b'\\x7fELF' + bytes(range(256)) * 4)\n\
             z.writestr(zipfile.ZipInfo('lib/extra.txt', t), 'extra')\n\
             z.comment = b'built by a test'\n\
             z.close()\n",
            &path,
        );
        let before = entries(&path).unwrap();
        assert_eq!(
            before.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["bootstrap", "lib/extra.txt"]
        );
        assert_eq!(before[0].method, 0);
        assert!(add_entry(&path, "ca.pem", b"pem pem pem pem pem pem").unwrap());
        let listing = python(
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None\n\
             print(z.comment.decode())\n\
             for i in z.infolist():\n\
             \x20   print(i.filename, i.compress_type, i.date_time, z.read(i)[:4])\n",
            &path,
        );
        assert_eq!(
            listing,
            "built by a test\n\
             bootstrap 0 (2020, 5, 6, 7, 8, 10) b'\\x7fELF'\n\
             lib/extra.txt 0 (2020, 5, 6, 7, 8, 10) b'extr'\n\
             ca.pem 8 (1980, 1, 1, 0, 0, 0) b'pem '\n"
        );
        assert_eq!(
            read_entry(&path, "ca.pem").unwrap().as_deref(),
            Some(&b"pem pem pem pem pem pem"[..])
        );
        assert_eq!(read_entry(&path, "missing").unwrap(), None);
        assert!(!add_entry(&path, "ca.pem", b"pem pem pem pem pem pem").unwrap());
    }

    #[test]
    fn what_is_not_a_zip_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.zip");
        std::fs::write(&path, b"PK\x05\x06 but no end record").unwrap();
        let err = add_entry(&path, "x", b"y").unwrap_err();
        assert!(matches!(err, ZipError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("b.zip"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"PK\x05\x06 but no end record"
        );
        let missing = dir.path().join("none.zip");
        assert!(matches!(
            entries(&missing).unwrap_err(),
            ZipError::Io { .. }
        ));
    }
}
