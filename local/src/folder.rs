//! Indexing a local folder (`chat-local --index-dir <folder>`): every Markdown, HTML and
//! text file under it becomes a document source of the demo project, through the same
//! code the `POST /v2/knowledge/sources` route runs, so anyone can try the assistant on
//! their own docs.

use std::path::{Path, PathBuf};

use chat_domain::ids::{Caller, ProjectId};
use chat_domain::input::knowledge::{DocumentFields, MAX_DOCUMENT_CHARS, SourceFields};
use chat_domain::knowledge::{DocumentType, SourceKind};
use chat_storage::ports::SourceStore;

use crate::app::App;

/// The most files one folder gives.
pub const MAX_FILES: usize = 1_000;

/// The document type of a file, by its extension; `None` for a file that is not indexed.
pub fn document_type(path: &Path) -> Option<DocumentType> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "md" | "markdown" => Some(DocumentType::Markdown),
        "html" | "htm" => Some(DocumentType::Html),
        "txt" => Some(DocumentType::PlainText),
        _ => None,
    }
}

/// The files under `dir` that are indexed, in path order, at most [`MAX_FILES`].
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            // Links are not followed: the folder is what is given, nothing outside it.
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() && document_type(&entry.path()).is_some() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found.truncate(MAX_FILES);
    Ok(found)
}

/// A document's title: a Markdown file's first `# ` heading, else its file name.
pub fn title(path: &Path, text: &str) -> String {
    let heading = text
        .lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(str::trim)
        .filter(|h| !h.is_empty());
    heading
        .map(str::to_owned)
        .unwrap_or_else(|| {
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .chars()
        .take(300)
        .collect()
}

/// Adds each file under `dir` that the demo project does not have yet (by its path) as a
/// document; how many were added.
pub async fn index_folder(app: &App, dir: &Path) -> Result<usize, String> {
    let caller = Caller::project_scope(ProjectId(crate::seed::DEMO_PROJECT));
    let known: Vec<String> = app
        .store
        .knowledge(caller.project)
        .await
        .map_err(|e| e.to_string())?
        .sources
        .into_iter()
        .filter_map(|s| s.name)
        .collect();
    let mut added = 0;
    for path in files(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if known.contains(&name) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            tracing::warn!(path = %path.display(), "not UTF-8 text; left out");
            continue;
        };
        if text.trim().is_empty() || text.chars().count() > MAX_DOCUMENT_CHARS {
            tracing::warn!(path = %path.display(), "empty or over a million characters; left out");
            continue;
        }
        let fields = SourceFields {
            kind: Some(SourceKind::Document),
            name: Some(Some(name.chars().take(200).collect())),
            schedule: None,
            website: Default::default(),
            document: DocumentFields {
                title: Some(title(&path, &text)),
                content: Some(text),
                content_type: document_type(&path),
                url: None,
            },
        };
        app.knowledge
            .add_source(caller, fields)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        added += 1;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_html_and_text_files_are_taken_by_their_extension() {
        assert_eq!(
            document_type(Path::new("a/b.md")),
            Some(DocumentType::Markdown)
        );
        assert_eq!(document_type(Path::new("x.HTML")), Some(DocumentType::Html));
        assert_eq!(
            document_type(Path::new("notes.txt")),
            Some(DocumentType::PlainText)
        );
        assert_eq!(document_type(Path::new("logo.png")), None);
        assert_eq!(
            title(Path::new("guide.md"), "intro\n# Getting started\n"),
            "Getting started"
        );
        assert_eq!(title(Path::new("faq.txt"), "Q: why?"), "faq");
    }
}
