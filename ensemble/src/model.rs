//! An ONNX classifier loaded by tract: one input `[batch, features]` f32, class scores out.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::Error;

type Plan = Arc<TypedRunnableModel>;

/// How the graph is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// tract's ONNX operators, with [`crate::trees::onnx`]'s fast TreeEnsembleClassifier.
    #[default]
    Fast,
    /// tract's ONNX operators as shipped (its own TreeEnsembleClassifier): for comparisons.
    Stock,
}

/// A loaded model. The graph is parsed and decluttered once with a symbolic batch; a plan is
/// optimised per batch size on first use and cached (the LSTM needs concrete shapes in tract
/// 0.23, and the tree graphs do not care).
pub struct OnnxModel {
    typed: TypedModel,
    batch: Symbol,
    n_features: usize,
    n_classes: usize,
    output: usize,
    plans: Mutex<HashMap<usize, Plan>>,
}

/// Class scores of a batch, row-major `[rows, n_classes]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Probabilities {
    pub n_classes: usize,
    pub values: Vec<f32>,
}

impl Probabilities {
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.n_classes).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.n_classes..(i + 1) * self.n_classes]
    }
}

impl OnnxModel {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_with(path, Backend::Fast)
    }

    pub fn load_with(path: impl AsRef<Path>, backend: Backend) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        Self::from_bytes(&bytes, backend).map_err(|e| e.context(path.display().to_string()))
    }

    pub fn from_bytes(bytes: &[u8], backend: Backend) -> Result<Self, Error> {
        let onnx = match backend {
            Backend::Fast => crate::trees::onnx(),
            Backend::Stock => tract_onnx::onnx(),
        };
        let mut model = onnx
            .model_for_read(&mut &*bytes)
            .map_err(Error::tract("parse"))?;
        let input = model.input_fact(0).map_err(Error::tract("input"))?.clone();
        let n_features = input
            .shape
            .dims()
            .nth(1)
            .and_then(|d| d.concretize())
            .and_then(|d| d.to_i64().ok())
            .filter(|_| input.shape.rank().concretize() == Some(2))
            .ok_or_else(|| {
                Error::Model(format!("input must be [batch, features], got {input:?}"))
            })? as usize;
        let batch = model.symbols.sym("batch");
        model
            .set_input_fact(0, f32::fact([batch.to_dim(), n_features.to_dim()]).into())
            .map_err(Error::tract("input fact"))?;
        let outputs: Vec<String> = model
            .output_outlets()
            .map_err(Error::tract("outputs"))?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .unwrap_or(&model.node(o.node).name)
                    .to_string()
            })
            .collect();
        let output = outputs
            .iter()
            .position(|n| n == "probabilities" || n.starts_with("probabilities"))
            .or(if outputs.len() == 1 { Some(0) } else { None })
            .ok_or_else(|| Error::Model(format!("no `probabilities` output among {outputs:?}")))?;
        let typed = model.into_typed().map_err(Error::tract("typing"))?;
        let typed = typed
            .into_decluttered()
            .map_err(Error::tract("declutter"))?;
        let fact = typed.output_fact(output).map_err(Error::tract("output"))?;
        let n_classes = fact
            .shape
            .last()
            .and_then(|d| d.to_i64().ok())
            .ok_or_else(|| Error::Model(format!("output must be [batch, classes], got {fact:?}")))?
            as usize;
        Ok(OnnxModel {
            typed,
            batch,
            n_features,
            n_classes,
            output,
            plans: Mutex::default(),
        })
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn plan(&self, rows: usize) -> Result<Plan, Error> {
        if let Some(plan) = self.plans.lock().expect("plan cache").get(&rows) {
            return Ok(plan.clone());
        }
        let subs = HashMap::from([(self.batch.clone(), (rows as i64).to_dim())]);
        let plan = self
            .typed
            .set_symbols(&subs)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(Error::tract("plan"))?;
        self.plans
            .lock()
            .expect("plan cache")
            .insert(rows, plan.clone());
        Ok(plan)
    }

    /// Runs a batch: `rows` is row-major `[n, n_features]`.
    pub fn predict(&self, rows: &[f32]) -> Result<Probabilities, Error> {
        let nf = self.n_features;
        if nf == 0 || !rows.len().is_multiple_of(nf) {
            return Err(Error::Input(format!(
                "{} values is not a multiple of {nf} features",
                rows.len()
            )));
        }
        let n = rows.len() / nf;
        if n == 0 {
            return Ok(Probabilities {
                n_classes: self.n_classes,
                values: vec![],
            });
        }
        let input = Tensor::from_shape(&[n, nf], rows).map_err(Error::tract("input"))?;
        let outputs = self
            .plan(n)?
            .run(tvec!(input.into()))
            .map_err(Error::tract("run"))?;
        let values = outputs[self.output]
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(Error::tract("output"))?
            .to_vec();
        Ok(Probabilities {
            n_classes: self.n_classes,
            values,
        })
    }
}
