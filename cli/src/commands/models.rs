//! `tft models upload` and `tft models promote`: the model store (a directory or
//! `s3://bucket/prefix`) as models/retrain.sh drives it. A bundle is verified (sha256 of
//! every file, this code's feature schema) before it is stored, and becomes `current`
//! only if its validation macro-F1 is not worse than the current one's.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use ensemble::job::s3_client;
use ensemble::store::{ModelStore, Promotion};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Copy a bundle directory (manifest.json + the files it lists) into the store under
    /// the manifest's version; does not make it current.
    Upload {
        #[arg(long)]
        dir: PathBuf,
        /// A local store root or s3://bucket/prefix.
        #[arg(long)]
        store: String,
    },
    /// Make VERSION current if it verifies and validates no worse than the current one.
    Promote {
        version: String,
        /// A local store root or s3://bucket/prefix.
        #[arg(long)]
        store: String,
    },
}

/// A store from `s3://bucket[/prefix]` or a directory path.
pub async fn open_store(spec: &str) -> anyhow::Result<ModelStore> {
    match spec.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(!bucket.is_empty(), "no bucket in {spec:?}");
            Ok(ModelStore::S3 {
                client: s3_client().await,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        }
        None => Ok(ModelStore::Local(Path::new(spec).to_path_buf())),
    }
}

pub async fn run(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Upload { dir, store } => {
            let version = open_store(&store).await?.upload_dir(&dir).await?;
            println!("uploaded {version} to {store}");
        }
        ModelsCommand::Promote { version, store } => {
            match open_store(&store).await?.promote(&version).await? {
                Promotion::Promoted { version } => println!("{version} is now current in {store}"),
                Promotion::KeptCurrent {
                    current,
                    current_metric,
                    candidate_metric,
                } => println!(
                    "kept {current} current: {version} validates worse \
                     (macro_f1 {candidate_metric:.4} < {current_metric:.4})"
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_specs() {
        match open_store("s3://tft-models/prod/models/").await.unwrap() {
            ModelStore::S3 { bucket, prefix, .. } => {
                assert_eq!(
                    (bucket.as_str(), prefix.as_str()),
                    ("tft-models", "prod/models")
                )
            }
            other => panic!("{other:?}"),
        }
        match open_store("s3://tft-models").await.unwrap() {
            ModelStore::S3 { prefix, .. } => assert_eq!(prefix, ""),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_store("models/store").await.unwrap(),
            ModelStore::Local(p) if p == Path::new("models/store")
        ));
        assert!(open_store("s3://").await.is_err());
    }
}
