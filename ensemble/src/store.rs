//! Where model bundles live: a local directory (the CLI, tests, the demo) or S3 (the
//! Lambda functions). Layout, the same in both:
//!
//! ```text
//! <root>/ensemble/<version>/manifest.json, lstm.onnx, xgboost.onnx, lightgbm.onnx, golden.json
//! <root>/ensemble/current          the serving version's name
//! ```
//!
//! A bundle is served only when its manifest parses, agrees with this code's feature
//! schema, classes and weights, and every file matches its sha256. A new version becomes
//! `current` only if its validation metric is not worse than the current one's; old
//! versions stay for rollback.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::manifest::{BundleError, Manifest};

/// The validation metric that decides promotion (ensemble, higher is better).
pub const PROMOTION_METRIC: &str = "macro_f1";

/// A verified bundle: the manifest and the bytes of every file it lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub manifest: Manifest,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}

/// A model store.
#[derive(Debug, Clone)]
pub enum ModelStore {
    Local(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        /// Key prefix without a trailing slash ("" for the bucket root).
        prefix: String,
    },
}

fn unreadable(version: &str, file: &str, reason: impl ToString) -> BundleError {
    BundleError::Unreadable {
        version: version.to_string(),
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

impl ModelStore {
    fn key(&self, parts: &[&str]) -> String {
        let tail = std::iter::once("ensemble")
            .chain(parts.iter().copied())
            .collect::<Vec<_>>()
            .join("/");
        match self {
            ModelStore::Local(_) => tail,
            ModelStore::S3 { prefix, .. } if prefix.is_empty() => tail,
            ModelStore::S3 { prefix, .. } => format!("{prefix}/{tail}"),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            ModelStore::Local(root) => match tokio::fs::read(root.join(key)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            ModelStore::S3 { client, bucket, .. } => {
                match client.get_object().bucket(bucket).key(key).send().await {
                    Ok(out) => out
                        .body
                        .collect()
                        .await
                        .map(|b| Some(b.into_bytes().to_vec()))
                        .map_err(|e| e.to_string()),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                    Err(e) => Err(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
                }
            }
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        match self {
            ModelStore::Local(root) => {
                let path = root.join(key);
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                tokio::fs::write(&path, bytes)
                    .await
                    .map_err(|e| e.to_string())
            }
            ModelStore::S3 { client, bucket, .. } => client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(bytes.into())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
        }
    }

    /// The name of the serving version.
    pub async fn current_version(&self) -> Result<String, BundleError> {
        let key = self.key(&["current"]);
        match self.current_pointer().await {
            Ok(Some(version)) => Ok(version),
            Ok(None) => Err(BundleError::NoCurrent(format!("{key} does not exist"))),
            Err(e) => Err(BundleError::NoCurrent(format!("{key}: {e}"))),
        }
    }

    /// The `current` pointer: `None` when the store has none yet (before the first
    /// promotion); an error when the store cannot be read or the pointer is empty.
    pub async fn current_pointer(&self) -> Result<Option<String>, String> {
        match self.get(&self.key(&["current"])).await? {
            Some(bytes) => {
                let version = String::from_utf8_lossy(&bytes).trim().to_string();
                if version.is_empty() {
                    Err("the current pointer is empty".into())
                } else {
                    Ok(Some(version))
                }
            }
            None => Ok(None),
        }
    }

    /// Every version in the store (each a folder with a `manifest.json` beside its
    /// files), sorted by name: the names start with the training window's end, so the
    /// last is the newest. A folder without a manifest (an upload in progress) is left out.
    #[tracing::instrument(skip(self))]
    pub async fn versions(&self) -> Result<Vec<String>, String> {
        let mut versions = Vec::new();
        match self {
            ModelStore::Local(root) => {
                let dir = root.join("ensemble");
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(versions),
                    Err(e) => return Err(format!("{}: {e}", dir.display())),
                };
                while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
                    if tokio::fs::try_exists(entry.path().join("manifest.json"))
                        .await
                        .unwrap_or(false)
                    {
                        versions.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            ModelStore::S3 { client, bucket, .. } => {
                let prefix = format!("{}/", self.key(&[]));
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page =
                        page.map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())?;
                    for object in page.contents() {
                        let Some(rest) = object.key().and_then(|k| k.strip_prefix(&prefix)) else {
                            continue;
                        };
                        if let Some(version) = rest.strip_suffix("/manifest.json") {
                            if !version.is_empty() && !version.contains('/') {
                                versions.push(version.to_string());
                            }
                        }
                    }
                }
            }
        }
        versions.sort();
        Ok(versions)
    }

    /// One version's manifest, parsed but with its files not read (what `GET /v1/models`
    /// shows; serving verifies the files through [`ModelStore::load`]).
    #[tracing::instrument(skip(self))]
    pub async fn manifest(&self, version: &str) -> Result<Manifest, BundleError> {
        let bytes = self
            .get(&self.key(&[version, "manifest.json"]))
            .await
            .map_err(|e| unreadable(version, "manifest.json", e))?
            .ok_or_else(|| unreadable(version, "manifest.json", "missing"))?;
        Manifest::parse(version, &bytes)
    }

    /// Loads and verifies one version.
    #[tracing::instrument(skip(self))]
    pub async fn load(&self, version: &str) -> Result<Bundle, BundleError> {
        let manifest_bytes = self
            .get(&self.key(&[version, "manifest.json"]))
            .await
            .map_err(|e| unreadable(version, "manifest.json", e))?
            .ok_or_else(|| unreadable(version, "manifest.json", "missing"))?;
        let manifest = Manifest::parse(version, &manifest_bytes)?;
        manifest.check_against_code()?;
        let mut files = BTreeMap::new();
        for file in manifest.files() {
            let bytes = self
                .get(&self.key(&[version, &file.file]))
                .await
                .map_err(|e| unreadable(version, &file.file, e))?
                .ok_or_else(|| unreadable(version, &file.file, "missing"))?;
            manifest.verify_file(file, &bytes)?;
            files.insert(file.file.clone(), bytes);
        }
        Ok(Bundle { manifest, files })
    }

    /// Loads and verifies the serving version.
    pub async fn load_current(&self) -> Result<Bundle, BundleError> {
        let version = self.current_version().await?;
        self.load(&version).await
    }

    /// Copies a bundle directory (manifest.json and its files) into the store under the
    /// manifest's version, verifying it first. Does not make it current.
    pub async fn upload_dir(&self, dir: &std::path::Path) -> Result<String, BundleError> {
        let manifest_bytes = tokio::fs::read(dir.join("manifest.json"))
            .await
            .map_err(|e| unreadable("?", "manifest.json", e))?;
        let probe = probe_manifest(&manifest_bytes)?;
        let mut files = BTreeMap::new();
        for file in probe.files() {
            let bytes = tokio::fs::read(dir.join(&file.file))
                .await
                .map_err(|e| unreadable(&probe.version, &file.file, e))?;
            files.insert(file.file.clone(), Cow::Owned(bytes));
        }
        files.insert("manifest.json".to_string(), Cow::Owned(manifest_bytes));
        self.upload_files(files).await
    }

    /// Copies a bundle given as its files (`manifest.json` among them; the deploy
    /// function's embedded bundle) into the store under the manifest's version, after
    /// the checks serving makes: every file the manifest lists present with its sha256,
    /// the feature schema, classes and weights this code expects. Nothing is written when
    /// a check fails; the manifest is written last, so a version is listed only once its
    /// files are in place. Does not make it current.
    pub async fn upload_files(
        &self,
        mut files: BTreeMap<String, Cow<'_, [u8]>>,
    ) -> Result<String, BundleError> {
        let manifest_bytes = files
            .remove("manifest.json")
            .ok_or_else(|| unreadable("?", "manifest.json", "missing"))?;
        let probe = probe_manifest(&manifest_bytes)?;
        let version = probe.version.clone();
        let mut bytes_of = BTreeMap::new();
        for file in probe.files() {
            let bytes = files
                .remove(&file.file)
                .ok_or_else(|| unreadable(&version, &file.file, "missing"))?;
            probe.verify_file(file, &bytes)?;
            bytes_of.insert(file.file.clone(), bytes);
        }
        probe.check_against_code()?;
        for (name, bytes) in bytes_of {
            self.put(&self.key(&[&version, &name]), bytes.into_owned())
                .await
                .map_err(|e| unreadable(&version, &name, e))?;
        }
        self.put(
            &self.key(&[&version, "manifest.json"]),
            manifest_bytes.into_owned(),
        )
        .await
        .map_err(|e| unreadable(&version, "manifest.json", e))?;
        Ok(version)
    }

    /// Makes `version` current, whatever the current one is, once it loads and verifies
    /// (`tft models rollback`, and a promotion the trading rule decided).
    pub async fn set_current(&self, version: &str) -> Result<(), BundleError> {
        self.load(version).await?;
        self.put(&self.key(&["current"]), version.as_bytes().to_vec())
            .await
            .map_err(|e| unreadable(version, "current", e))
    }

    /// Makes `version` current only if the store has no `current` pointer yet, in one
    /// atomic step (S3: a conditional write, `If-None-Match: *`; a directory: the file
    /// created exclusively), so a `current` that a retrain promoted meanwhile is never
    /// replaced. `version` must load and verify first. Returns whether it became current.
    pub async fn set_current_if_absent(&self, version: &str) -> Result<bool, BundleError> {
        self.load(version).await?;
        let key = self.key(&["current"]);
        let written = match self {
            ModelStore::Local(root) => {
                let path = root.join(&key);
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| unreadable(version, "current", e.to_string()))?;
                }
                let created = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await;
                match created {
                    Ok(mut file) => {
                        use tokio::io::AsyncWriteExt;
                        file.write_all(version.as_bytes())
                            .await
                            .and(file.flush().await)
                            .map_err(|e| unreadable(version, "current", e.to_string()))?;
                        true
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(unreadable(version, "current", e.to_string())),
                }
            }
            ModelStore::S3 { client, bucket, .. } => {
                let put = client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .if_none_match("*")
                    .body(version.as_bytes().to_vec().into())
                    .send()
                    .await;
                match put {
                    Ok(_) => true,
                    // 412: the pointer exists. 409: another writer is creating it now.
                    Err(e)
                        if matches!(
                            e.raw_response().map(|r| r.status().as_u16()),
                            Some(412 | 409)
                        ) =>
                    {
                        false
                    }
                    Err(e) => {
                        return Err(unreadable(
                            version,
                            "current",
                            aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                        ))
                    }
                }
            }
        };
        Ok(written)
    }

    /// Makes `version` current if it verifies and its ensemble validation metric is not
    /// worse than the current version's (or there is none). Returns whether it did.
    pub async fn promote(&self, version: &str) -> Result<Promotion, BundleError> {
        let candidate = self.load(version).await?;
        let metric = |m: &Manifest| {
            m.validation_metrics
                .get("ensemble")
                .and_then(|e| e.get(PROMOTION_METRIC))
                .copied()
        };
        let new = metric(&candidate.manifest).ok_or_else(|| BundleError::Inconsistent {
            version: version.to_string(),
            reason: format!("no ensemble {PROMOTION_METRIC} in validation_metrics"),
        })?;
        if let Ok(current) = self.load_current().await {
            if let Some(old) = metric(&current.manifest) {
                if new < old {
                    return Ok(Promotion::KeptCurrent {
                        current: current.manifest.version,
                        current_metric: old,
                        candidate_metric: new,
                    });
                }
            }
        }
        self.put(&self.key(&["current"]), version.as_bytes().to_vec())
            .await
            .map_err(|e| unreadable(version, "current", e))?;
        Ok(Promotion::Promoted {
            version: version.to_string(),
        })
    }
}

/// The manifest of a bundle about to be uploaded (its version is not known yet).
fn probe_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    serde_json::from_slice(bytes).map_err(|e| BundleError::BadManifest {
        version: "?".into(),
        reason: e.to_string(),
    })
}

/// What [`ModelStore::promote`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Promotion {
    Promoted {
        version: String,
    },
    KeptCurrent {
        current: String,
        current_metric: f64,
        candidate_metric: f64,
    },
}

/// The bundle a warm container serves: refreshed per invocation, but a failed refresh
/// (store unreachable, corrupt upload, schema mismatch) keeps the last good bundle.
#[derive(Default)]
pub struct ModelCache {
    last_good: tokio::sync::Mutex<Option<Arc<Bundle>>>,
}

impl ModelCache {
    pub async fn get(&self, store: &ModelStore) -> Result<Arc<Bundle>, BundleError> {
        let mut guard = self.last_good.lock().await;
        let current = match store.current_version().await {
            Ok(v) => v,
            Err(e) => {
                return match guard.clone() {
                    Some(last) => {
                        tracing::error!(error = %e, serving = %last.manifest.version, "model store unreadable; keeping the last good model");
                        Ok(last)
                    }
                    None => Err(e),
                }
            }
        };
        if let Some(bundle) = guard.as_ref() {
            if bundle.manifest.version == current {
                return Ok(bundle.clone());
            }
        }
        match store.load(&current).await {
            Ok(bundle) => {
                let bundle = Arc::new(bundle);
                *guard = Some(bundle.clone());
                Ok(bundle)
            }
            Err(e) => match guard.clone() {
                Some(last) => {
                    tracing::error!(error = %e, serving = %last.manifest.version, "new model refused; keeping the last good one");
                    Ok(last)
                }
                None => Err(e),
            },
        }
    }
}
