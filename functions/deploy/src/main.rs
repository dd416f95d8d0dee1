//! Lambda `deploy`: CloudFormation's custom resources `Custom::Migrations` and
//! `Custom::ModelBundle` (template.yaml), invoked by the stack on create, update and
//! delete. Builds its clients once per container and hands each request to
//! [`ensemble::deploy::Deploy::handle`], which always answers the request's ResponseURL.
//! The committed model bundle is compiled in (build.rs).

use std::borrow::Cow;

use ensemble::deploy::{BundleFiles, Deploy};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

mod bundle {
    include!(concat!(env!("OUT_DIR"), "/bundle.rs"));
}

/// The compiled-in files, borrowed: nothing is copied at init.
fn shipped_bundle() -> BundleFiles {
    bundle::FILES
        .iter()
        .map(|(name, bytes)| (name.to_string(), Cow::Borrowed(*bytes)))
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deploy = Deploy::from_env(shipped_bundle()).await;
    tracing::info!(
        bundle = bundle::VERSION,
        migrations = shared::adapters::db::latest_migration().unwrap_or_default(),
        "deploy function ready"
    );
    let deploy = &deploy;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the handler future is deep (S3, Postgres, the PUT).
        Box::pin(deploy.handle(&event.payload, event.context.deadline))
            .await
            .map_err(Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary ships exactly the committed current bundle.
    #[test]
    fn the_shipped_bundle_is_the_committed_current_one() {
        let store =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/store/ensemble");
        let current = std::fs::read_to_string(store.join("current")).unwrap();
        assert_eq!(bundle::VERSION, current.trim());
        let files = shipped_bundle();
        assert!(files.contains_key("manifest.json"), "{:?}", files.keys());
        for (name, bytes) in &files {
            let on_disk = std::fs::read(store.join(current.trim()).join(name)).unwrap();
            assert!(
                bytes[..] == on_disk[..],
                "{name} differs from the committed file"
            );
        }
    }
}
