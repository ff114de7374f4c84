//! A warm function's indexes: each project's current snapshot, fetched once from the blob
//! store, unpacked under `/tmp` and kept open (memory-mapped) while the version the
//! project item names stays the same. A current cache costs no round trip.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chat_domain::ids::ProjectId;
use uuid::Uuid;

use crate::IndexError;
use crate::blobs::{BlobError, BlobStore, snapshot_key};
use crate::search::KnowledgeIndex;
use crate::snapshot::Snapshot;

/// Why an index could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The snapshot could not be fetched.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The snapshot the project names is not in the store.
    #[error("the index snapshot {0} is missing")]
    Missing(String),
    /// The snapshot could not be opened.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The most projects' indexes a process keeps open (and unpacked under its root): past it,
/// the one searched longest ago is dropped, so a function serving many projects does not
/// fill its `/tmp`.
pub const MAX_OPEN_INDEXES: usize = 16;

/// An open index, its version and when it was last asked for.
type Open = (String, Arc<KnowledgeIndex>, std::time::Instant);

/// The projects' open indexes.
pub struct IndexCache {
    root: PathBuf,
    open: Mutex<HashMap<Uuid, Open>>,
    /// One load at a time: two requests missing the same index do not race to unpack it.
    loading: tokio::sync::Mutex<()>,
}

impl IndexCache {
    /// A cache unpacking snapshots under `root` (`/tmp/knowledge` on Lambda).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            open: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The open index of `project` at `version`, if the cache holds it.
    pub fn cached(&self, project: ProjectId, version: &str) -> Option<Arc<KnowledgeIndex>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (v, index, used) = open.get_mut(&project.0)?;
        if v != version {
            return None;
        }
        *used = std::time::Instant::now();
        Some(index.clone())
    }

    /// The open index of `project` at whatever version the cache holds: what a turn can
    /// prepare with (the question's embedding) before its first read says the version.
    pub fn latest(&self, project: ProjectId) -> Option<Arc<KnowledgeIndex>> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&project.0).map(|(_, index, _)| index.clone())
    }

    /// The index of `project` at `version`: the open one, else fetched from `blobs`,
    /// unpacked and opened (an older version of the project is dropped).
    pub async fn index<B: BlobStore>(
        &self,
        blobs: &B,
        project: ProjectId,
        version: &str,
    ) -> Result<Arc<KnowledgeIndex>, CacheError> {
        if let Some(index) = self.cached(project, version) {
            return Ok(index);
        }
        let _loading = self.loading.lock().await;
        if let Some(index) = self.cached(project, version) {
            return Ok(index);
        }
        let dir = self.root.join(project.0.to_string()).join(version);
        let index = match KnowledgeIndex::open(&dir) {
            Ok(index) => index,
            Err(_) => {
                let key = snapshot_key(project, version);
                let bytes = blobs.get(&key).await?.ok_or(CacheError::Missing(key))?;
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    // Unpacked beside, then moved in: a half-written folder is never opened.
                    let parent = dir.parent().unwrap_or(&dir).to_path_buf();
                    std::fs::create_dir_all(&parent)?;
                    let staging = tempfile::tempdir_in(&parent)?;
                    Snapshot(bytes.to_vec()).unpack(staging.path())?;
                    let _ = std::fs::remove_dir_all(&dir);
                    std::fs::rename(staging.keep(), &dir)?;
                    KnowledgeIndex::open(&dir)
                })
                .await
                .map_err(|e| IndexError::Io(std::io::Error::other(e)))??
            }
        };
        let index = Arc::new(index);
        let dropped: Vec<(Uuid, String)> = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let mut dropped = Vec::new();
            if let Some((old, ..)) = open.insert(
                project.0,
                (version.to_owned(), index.clone(), std::time::Instant::now()),
            ) && old != version
            {
                dropped.push((project.0, old));
            }
            while open.len() > MAX_OPEN_INDEXES {
                let Some(oldest) = open
                    .iter()
                    .min_by_key(|(_, (.., used))| *used)
                    .map(|(p, _)| *p)
                else {
                    break;
                };
                if let Some((old, ..)) = open.remove(&oldest) {
                    dropped.push((oldest, old));
                }
            }
            dropped
        };
        // A search still holding a dropped index keeps its mapped files readable.
        for (project, old) in dropped {
            let _ = std::fs::remove_dir_all(self.root.join(project.to_string()).join(old));
        }
        Ok(index)
    }
}
