//! The peers of `bench/peers/`: the same get and streaming completion written the way a user
//! would otherwise write them (Node.js with the AWS SDK v3 and the Vercel AI SDK, Python
//! with boto3), started as a container image starts them, under their official runtime
//! interface clients, against the bench's own Runtime API and engine. The command lines are
//! the ones `bench/peers/README.md` gives; `bench/peers/install.sh` puts everything in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cold::Function;
use crate::stack::BoxError;

/// The three peers, ready to spawn.
#[derive(Clone, Debug)]
pub struct Peers {
    pub node_get: Function,
    pub node_completion: Function,
    pub python_get: Function,
    /// `bench/peers/packages`: what a user would upload for each (made by install.sh).
    pub packages: PathBuf,
}

impl Peers {
    /// The peers installed under `dir` (`bench/peers`), run with the `node` found on `PATH`.
    pub fn find(dir: &Path) -> Result<Self, BoxError> {
        let dir = std::path::absolute(dir)?;
        let node = on_path("node").ok_or("node not found on PATH")?;
        let ric = dir.join("node/node_modules/aws-lambda-ric/bin/index.mjs");
        let dist = dir.join("node/dist");
        let python = dir.join("python/.venv/bin/python");
        let packages = dir.join("packages");
        for needed in [
            &ric,
            &dist.join("get.mjs"),
            &dist.join("completion.mjs"),
            &python,
            &packages.join("node-get.zip"),
            &packages.join("python-get.zip"),
        ] {
            if !needed.exists() {
                return Err(format!(
                    "{} missing: run bench/peers/install.sh (or pass --no-peers)",
                    needed.display()
                )
                .into());
            }
        }
        let node_peer = |name: &'static str, handler: &str| Function {
            name,
            path: node.clone(),
            args: vec![ric.display().to_string(), handler.to_owned()],
            dir: Some(dist.clone()),
            inline_keys: true,
            env: Vec::new(),
        };
        Ok(Self {
            node_get: node_peer("node-get", "get.handler"),
            node_completion: node_peer("node-completion", "completion.handler"),
            python_get: Function {
                name: "python-get",
                path: python,
                args: ["-m", "awslambdaric", "get.lambda_handler"]
                    .map(String::from)
                    .to_vec(),
                dir: Some(dir.join("python")),
                inline_keys: true,
                env: Vec::new(),
            },
            packages,
        })
    }

    /// The size in bytes of the package `name` (`node-get`, `python-get`, ...).
    pub fn package_size(&self, name: &str) -> Result<u64, BoxError> {
        let path = self.packages.join(format!("{name}.zip"));
        Ok(std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len())
    }
}

/// The first `program` in the directories of `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The size in bytes of the zip a user uploads for our `binary`: the binary alone, named
/// `bootstrap`, deflated at the highest level with `zip -X -9` (as the peers' packages are
/// made; cargo-lambda's zip of the same file is a deflate zip too).
pub fn bootstrap_zip_size(binary: &Path) -> Result<u64, BoxError> {
    let stage = std::env::temp_dir().join(format!("bench-zip-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&stage)?;
    let result = (|| -> Result<u64, BoxError> {
        std::fs::copy(binary, stage.join("bootstrap"))
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let status = Command::new("zip")
            .args(["-X", "-9", "-q", "bootstrap.zip", "bootstrap"])
            .current_dir(&stage)
            .status()
            .map_err(|e| format!("zip: {e} (the bench needs zip, as install.sh does)"))?;
        if !status.success() {
            return Err(format!("zip failed: {status}").into());
        }
        Ok(std::fs::metadata(stage.join("bootstrap.zip"))?.len())
    })();
    let _ = std::fs::remove_dir_all(&stage);
    result
}
