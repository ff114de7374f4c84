//! A snapshot: an index's folder as one tar, the object stored for each version. Opened, it
//! is unpacked into a folder of its own and searched from there memory-mapped.

use std::io::Cursor;
use std::path::{Component, Path};

use crate::IndexError;

/// An index's files, packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub Vec<u8>);

impl Snapshot {
    /// Packs every file of `dir` (the index's files are all at its top).
    pub fn pack(dir: &Path) -> Result<Self, IndexError> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        // Sorted, so that equal indexes pack to equal bytes.
        names.sort();
        for name in names {
            let path = dir.join(&name);
            // tantivy's writer lock is no part of an index.
            if name.to_string_lossy().ends_with(".lock") {
                continue;
            }
            let data = std::fs::read(&path)?;
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder.append_data(&mut header, &name, data.as_slice())?;
        }
        Ok(Self(builder.into_inner()?))
    }

    /// Writes the files into `dir`, an empty folder. An entry that is not a plain file at
    /// the folder's top is refused: a snapshot is read back from storage, not trusted.
    pub fn unpack(&self, dir: &Path) -> Result<(), IndexError> {
        let mut archive = tar::Archive::new(Cursor::new(&self.0));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let plain = entry.header().entry_type().is_file()
                && matches!(
                    path.components().collect::<Vec<_>>()[..],
                    [Component::Normal(_)]
                );
            if !plain {
                return Err(IndexError::NotASnapshot(format!(
                    "an entry that is not a plain file: {}",
                    path.display()
                )));
            }
            let mut file = std::fs::File::create(dir.join(&path))?;
            std::io::copy(&mut entry, &mut file)?;
        }
        Ok(())
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
