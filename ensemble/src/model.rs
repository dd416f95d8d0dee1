//! An ONNX classifier loaded by tract: one input `[batch, features]` (the tree models) or
//! `[batch, seq, features]` (the LSTM) f32, class scores `[batch, classes]` out.

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

/// A loaded model. The graph is parsed once; a plan is optimised per batch size on first use
/// and cached. Rank-2 graphs are typed and decluttered once with a symbolic batch, and each
/// plan substitutes the batch size. Rank-3 graphs (the LSTM: tract 0.23 cannot type its
/// scan with an undetermined batch symbol) keep the parsed graph and type each plan with
/// the concrete input shape.
pub struct OnnxModel {
    source: Source,
    /// Sequence length of a rank-3 input (`None` for `[batch, features]`).
    seq_len: Option<usize>,
    n_features: usize,
    n_classes: usize,
    output: usize,
    plans: Mutex<HashMap<usize, Plan>>,
}

enum Source {
    /// Typed and decluttered with the symbolic batch.
    Typed { typed: TypedModel, batch: Symbol },
    /// Parsed only: typed per concrete batch size.
    Parsed(InferenceModel),
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
        let rank = input.shape.rank().concretize();
        let dim = |i: usize| {
            input
                .shape
                .dims()
                .nth(i)
                .and_then(|d| d.concretize())
                .and_then(|d| d.to_i64().ok())
                .filter(|d| *d > 0)
                .map(|d| d as usize)
        };
        let (seq_len, n_features) = match rank {
            Some(2) => (None, dim(1)),
            Some(3) => (dim(1), dim(2)),
            _ => (None, None),
        };
        let n_features = n_features
            .filter(|_| rank == Some(2) || seq_len.is_some())
            .ok_or_else(|| {
                Error::Model(format!(
                    "input must be [batch, features] or [batch, seq, features], got {input:?}"
                ))
            })?;
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
        let (source, n_classes) = match seq_len {
            None => {
                let batch = model.symbols.sym("batch");
                model
                    .set_input_fact(0, f32::fact([batch.to_dim(), n_features.to_dim()]).into())
                    .map_err(Error::tract("input fact"))?;
                let typed = model
                    .into_typed()
                    .and_then(|m| m.into_decluttered())
                    .map_err(Error::tract("typing"))?;
                let n_classes = classes_of(&typed, output)?;
                (Source::Typed { typed, batch }, n_classes)
            }
            Some(seq) => {
                // Type once with batch 1 to check the graph and read the class count.
                let probe = typed_for(&model, 1, seq, n_features)?;
                let n_classes = classes_of(&probe, output)?;
                (Source::Parsed(model), n_classes)
            }
        };
        Ok(OnnxModel {
            source,
            seq_len,
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

    /// The sequence length of a `[batch, seq, features]` model (the LSTM), else `None`.
    pub fn seq_len(&self) -> Option<usize> {
        self.seq_len
    }

    /// Input values per batch row: `seq × features`, or `features`.
    pub fn row_width(&self) -> usize {
        self.seq_len.unwrap_or(1) * self.n_features
    }

    /// The plan cache. A panic elsewhere while it was held cannot leave a half-written
    /// plan (insert is one call), so a poisoned lock is recovered rather than panicking.
    fn cached_plans(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Plan>> {
        self.plans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn plan(&self, rows: usize) -> Result<Plan, Error> {
        if let Some(plan) = self.cached_plans().get(&rows) {
            return Ok(plan.clone());
        }
        let typed = match &self.source {
            Source::Typed { typed, batch } => {
                let subs = HashMap::from([(batch.clone(), (rows as i64).to_dim())]);
                typed.set_symbols(&subs).map_err(Error::tract("plan"))?
            }
            Source::Parsed(model) => {
                typed_for(model, rows, self.seq_len.unwrap_or(1), self.n_features)?
            }
        };
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(Error::tract("plan"))?;
        self.cached_plans().insert(rows, plan.clone());
        Ok(plan)
    }

    /// Runs a batch: `rows` is row-major `[n, n_features]`, or `[n, seq, n_features]` for
    /// a sequence model.
    pub fn predict(&self, rows: &[f32]) -> Result<Probabilities, Error> {
        let width = self.row_width();
        if width == 0 || !rows.len().is_multiple_of(width) {
            return Err(Error::Input(format!(
                "{} values is not a multiple of the row width {width} ({:?} × {} features)",
                rows.len(),
                self.seq_len,
                self.n_features
            )));
        }
        let n = rows.len() / width;
        if n == 0 {
            return Ok(Probabilities {
                n_classes: self.n_classes,
                values: vec![],
            });
        }
        let input = match self.seq_len {
            None => Tensor::from_shape(&[n, self.n_features], rows),
            Some(seq) => Tensor::from_shape(&[n, seq, self.n_features], rows),
        }
        .map_err(Error::tract("input"))?;
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

/// The parsed graph typed and decluttered for a concrete `[rows, seq, features]` input.
fn typed_for(
    model: &InferenceModel,
    rows: usize,
    seq: usize,
    n_features: usize,
) -> Result<TypedModel, Error> {
    let mut model = model.clone();
    model
        .set_input_fact(0, f32::fact([rows, seq, n_features]).into())
        .map_err(Error::tract("input fact"))?;
    model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(Error::tract("typing"))
}

fn classes_of(typed: &TypedModel, output: usize) -> Result<usize, Error> {
    let fact = typed.output_fact(output).map_err(Error::tract("output"))?;
    fact.shape
        .last()
        .and_then(|d| d.to_i64().ok())
        .filter(|_| fact.shape.rank() == 2)
        .map(|d| d as usize)
        .ok_or_else(|| Error::Model(format!("output must be [batch, classes], got {fact:?}")))
}
