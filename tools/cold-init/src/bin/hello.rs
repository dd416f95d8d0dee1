//! The cold-init baseline: a hello-world `lambda_runtime` function, built with the same
//! profile as the functions (tools/bench/cold_init.sh). It echoes its event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
